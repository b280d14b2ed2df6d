#pragma once
/// A fresh self-signed P-256 certificate, made in memory, for the TLS tests of the serving
/// stream and of the outbound connection: a server context holding it and its key, and the
/// certificate in PEM (to trust it as a CA file).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <string>

namespace fraudops::testing {

/// `subject_alt_name` (e.g. "IP:127.0.0.1", "DNS:collector.example"; empty: none) in the
/// certificate; `pem_path` (if not empty) receives the certificate. The caller frees the
/// context.
inline SSL_CTX* SelfSignedServerContext(const std::string& subject_alt_name = "",
                                        const std::string& pem_path = "") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  if (!subject_alt_name.empty()) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension =
        X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, subject_alt_name.c_str());
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());
  if (!pem_path.empty()) {
    FILE* file = std::fopen(pem_path.c_str(), "w");
    PEM_write_X509(file, cert);
    std::fclose(file);
  }
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(context, cert);
  SSL_CTX_use_PrivateKey(context, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return context;
}

}  // namespace fraudops::testing
