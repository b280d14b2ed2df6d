"""Python client for fraudops (standard library only; pandas optional).

    from fraudops_client import Client
    client = Client("http://127.0.0.1:8080", token="fops_...", api_key="fops_...")
    scores = client.predict("fraud-detector", dataframe)        # a DataFrame back
    with client.start_run("notebooks", name="eta sweep") as run:
        run.log_params({"eta": 0.1})
        run.log_metrics({"valid.auc": 0.93}, step=1)
    client.search_runs(filter="valid.auc >= 0.9", order_by="valid.auc")

`token` is a person's credential (a personal access token from `fraudops users token` or
POST /v1/login, or an OIDC token) for the workspace and registry routes; `api_key` is a
service key for scoring and feedback (scopes invoke, feedback). Either alone is used for
both. Errors are FraudopsError subclasses carrying the server's status, code and details;
429 and 503 are retried with backoff, honouring Retry-After. docs/api.md lists the routes.
"""

import hashlib
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "Client", "Run", "FraudopsError", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
    "Conflict", "PayloadTooLarge", "InvalidFeatures", "RateLimited", "Unavailable",
    "ServerError", "ConnectionFailed",
]
__version__ = "0.1.0"


# --------------------------------------------------------------------------------------------
# Errors


class FraudopsError(Exception):
    """A refused or failed request: `status` (HTTP), `code` (the server's error code, e.g.
    invalid_features), `message`, `details` (a dict, e.g. the missing features) and, for 429
    and 503, `retry_after` in seconds."""

    def __init__(self, status, code, message, details=None, retry_after=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after


class BadRequest(FraudopsError):
    """400: malformed JSON, a body or query parameter of the wrong kind."""


class Unauthorized(FraudopsError):
    """401: no credentials, or not valid ones."""


class Forbidden(FraudopsError):
    """403: the caller lacks the permission (details["permission"]) or the endpoint."""


class NotFound(FraudopsError):
    """404: no such endpoint, run, model, version or route."""


class Conflict(FraudopsError):
    """409: the state does not allow it (a finished run, a version that serves, …)."""


class PayloadTooLarge(FraudopsError):
    """413: the body or the number of rows is over the server's limit."""


class InvalidFeatures(FraudopsError):
    """422: missing, extra, duplicated or mistyped features (details say which)."""


class RateLimited(FraudopsError):
    """429: the key's plan refused the request (after the client's retries)."""


class Unavailable(FraudopsError):
    """503: a store the request needs does not answer (after the client's retries)."""


class ServerError(FraudopsError):
    """500 and other server errors."""


class ConnectionFailed(FraudopsError):
    """No answer: the server could not be reached (status 0)."""


_ERRORS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: BadRequest,
           409: Conflict, 413: PayloadTooLarge, 422: InvalidFeatures, 429: RateLimited,
           503: Unavailable}


def _error_from(status, body, headers):
    code, message, details = "error", "", {}
    try:
        parsed = json.loads(body.decode("utf-8")) if body else {}
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else {}
        if isinstance(error, dict):
            code = error.get("code", code)
            message = error.get("message", "")
            details = error.get("details", {}) or {}
        elif isinstance(error, str):  # the Open Inference Protocol's {"error": "..."}
            message = error
    except (ValueError, UnicodeDecodeError):
        message = body[:200].decode("utf-8", "replace")
    retry_after = _retry_after(headers)
    cls = _ERRORS.get(status, ServerError if status >= 500 else FraudopsError)
    return cls(status, code, message or f"HTTP {status}", details, retry_after)


def _retry_after(headers):
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Rows in and out: dicts or a pandas DataFrame


def _is_dataframe(value):
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_dict")


def _records(rows):
    """Rows as a list of dicts (JSON-ready: NaN and None become null)."""
    if _is_dataframe(rows):
        records = rows.to_dict(orient="records")
    elif isinstance(rows, dict):
        records = [rows]
    else:
        records = list(rows)
    out = []
    for record in records:
        clean = {}
        for name, value in record.items():
            if hasattr(value, "item"):  # numpy scalars
                value = value.item()
            if isinstance(value, float) and value != value:  # NaN: missing
                value = None
            clean[str(name)] = value
        out.append(clean)
    return out


def _frame_like(rows, results):
    """`results` (a list of dicts) as a DataFrame when `rows` was one (same index)."""
    if not _is_dataframe(rows):
        return results
    import pandas  # only when the caller passed a DataFrame, so pandas is there

    return pandas.DataFrame(results, index=rows.index)


# --------------------------------------------------------------------------------------------
# The client


class Client:
    """A connection to one fraudops server (`url`, e.g. http://127.0.0.1:8080)."""

    def __init__(self, url, token=None, api_key=None, timeout=30.0, retries=4, backoff=0.5,
                 max_backoff=30.0):
        self.url = url.rstrip("/")
        self.token = token or os.environ.get("FRAUDOPS_TOKEN")
        self.api_key = api_key or os.environ.get("FRAUDOPS_API_KEY") or self.token
        self.token = self.token or self.api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method, path, body=None, query=None, scoring=False, raw=None,
                 content_type="application/json", headers=None, want_headers=False):
        url = self.url + path
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"accept": "application/json"}
        if data is not None:
            sent["content-type"] = content_type
        credential = self.api_key if scoring else self.token
        if credential:
            if scoring:
                sent["x-api-key"] = credential
            else:
                sent["authorization"] = "Bearer " + credential
        sent.update(headers or {})
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, method=method, headers=sent)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                    answer = (payload, dict(response.headers.items()))
                    break
            except urllib.error.HTTPError as e:
                payload = e.read()
                error = _error_from(e.code, payload, e.headers)
                if e.code in (429, 503) and attempt < self.retries:
                    wait = error.retry_after
                    if wait is None:
                        wait = self.backoff * (2 ** attempt) * (0.5 + random.random())
                    time.sleep(min(wait, self.max_backoff))
                    attempt += 1
                    continue
                raise error from None
            except urllib.error.URLError as e:
                # Nothing reached the server: safe to try again for reads.
                if method == "GET" and attempt < self.retries:
                    time.sleep(min(self.backoff * (2 ** attempt), self.max_backoff))
                    attempt += 1
                    continue
                raise ConnectionFailed(0, "connection_failed", str(e.reason)) from None
        payload, response_headers = answer
        if want_headers:
            return payload, response_headers
        if not payload:
            return None
        return json.loads(payload.decode("utf-8"))

    @staticmethod
    def _segment(text):
        return urllib.parse.quote(str(text), safe="@")

    # -- scoring -----------------------------------------------------------------------------

    def predict(self, endpoint, rows, explain=None, request_id=None):
        """Scores transactions: one dict (a dict back), a list of dicts (a list back) or a
        pandas DataFrame (a DataFrame back, same index: request_id, score, label, variant,
        and decision/rule under a decision policy, reasons with `explain`)."""
        records = _records(rows)
        query = {"explain": explain} if explain else None
        headers = {"x-request-id": request_id} if request_id else None
        path = f"/v1/endpoints/{self._segment(endpoint)}/predict"
        if isinstance(rows, dict):
            return self._request("POST", path, records[0], query, scoring=True, headers=headers)
        answer = self._request("POST", path, {"instances": records}, query, scoring=True,
                               headers=headers)
        return _frame_like(rows, answer["predictions"])

    def explain(self, endpoint, rows, top=5):
        """predict with the `top` reasons (TreeSHAP contributions to the log-odds) per row."""
        return self.predict(endpoint, rows, explain=top)

    def feedback(self, endpoint, labels):
        """Delayed labels: {request_id: label}, a list of {"request_id", "label",
        "label_time"?} or a DataFrame with those columns."""
        if isinstance(labels, dict):
            items = [{"request_id": k, "label": int(v)} for k, v in labels.items()]
        else:
            items = _records(labels)
        return self._request("POST", f"/v1/endpoints/{self._segment(endpoint)}/feedback",
                             {"labels": items}, scoring=True)

    def model_metadata(self, endpoint):
        """The Open Inference Protocol's model metadata (inputs in the signature's order)."""
        return self._request("GET", f"/v2/models/{self._segment(endpoint)}", scoring=True)

    def infer(self, endpoint, rows, version=None):
        """Scores through the Open Inference Protocol (KServe v2): rows as dicts or a
        DataFrame, sent as one tensor per feature; returns {output name: values} (a DataFrame
        when a DataFrame came)."""
        records = _records(rows)
        inputs = []
        for meta in self.model_metadata(endpoint)["inputs"]:
            name = meta["name"]
            values = [record.get(name) for record in records]
            inputs.append({"name": name, "shape": [len(values)], "datatype": meta["datatype"],
                           "data": values})
        path = f"/v2/models/{self._segment(endpoint)}"
        if version is not None:
            path += f"/versions/{self._segment(version)}"
        answer = self._request("POST", path + "/infer", {"inputs": inputs}, scoring=True)
        outputs = {o["name"]: o["data"] for o in answer["outputs"]}
        if _is_dataframe(rows):
            import pandas

            return pandas.DataFrame(outputs, index=rows.index)
        return outputs

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, experiment, name=None, params=None, tags=None, note=None,
                  code_version=None):
        """Starts a run in the workspace's tracking store; use it as a context manager to
        finish it (failed, with the exception, when the block raises)."""
        body = {"experiment": experiment}
        for key, value in (("name", name), ("params", params), ("tags", tags), ("note", note),
                           ("code_version", code_version)):
            if value is not None:
                body[key] = value
        body.setdefault("host", os.uname().nodename if hasattr(os, "uname") else "")
        return Run(self, self._request("POST", "/v1/runs", body))

    def get_run(self, run_id):
        return self._request("GET", f"/v1/runs/{self._segment(run_id)}")

    def search_runs(self, filter=None, order_by=None, ascending=False, experiment=None,
                    status=None, metrics=None, tags=None, trials=None, max_results=1000,
                    page_size=500):
        """Runs the server selects (filter: "test.pr_auc >= 0.8 and params.eta = 0.1"),
        sorted by a metric or a run column, paged through; a DataFrame when pandas is there
        (one column per metric as metrics.NAME), else a list of dicts. trials: "include"
        (the default), "exclude" or "only" the tuning studies' trial runs."""
        runs, offset = [], 0
        while len(runs) < max_results:
            query = {"filter": filter, "order_by": order_by, "order": "asc" if ascending else None,
                     "experiment": experiment, "status": status, "trials": trials,
                     "metrics": ",".join(metrics) if metrics else None,
                     "tags": ",".join(tags) if tags else None,
                     "limit": min(page_size, max_results - len(runs)), "offset": offset}
            page = self._request("GET", "/v1/runs", query=query)
            runs.extend(page["runs"])
            offset += len(page["runs"])
            if not page["runs"] or offset >= page["total"]:
                break
        try:
            import pandas
        except ImportError:
            return runs
        flat = []
        for run in runs:
            row = {k: v for k, v in run.items() if k not in ("metrics", "tags")}
            row.update({f"metrics.{k}": v for k, v in run.get("metrics", {}).items()})
            row.update({f"tags.{k}": v for k, v in run.get("tags", {}).items()})
            flat.append(row)
        return pandas.DataFrame(flat)

    def compare_runs(self, run_ids):
        return self._request("GET", "/v1/runs/compare", query={"runs": ",".join(run_ids)})

    def metric_history(self, run_id, metric, max_points=None):
        """(steps, values) of a metric's curve, downsampled to `max_points` by the server."""
        answer = self._request(
            "GET", f"/v1/runs/{self._segment(run_id)}/metrics/{self._segment(metric)}",
            query={"max_points": max_points})
        return answer["steps"], answer["values"]

    def download_artifact(self, run_id, name, destination):
        """Writes artifact `name` of the run to `destination`, checked against its sha256."""
        payload, headers = self._request(
            "GET", f"/v1/runs/{self._segment(run_id)}/artifact", query={"path": name},
            want_headers=True)
        expected = {k.lower(): v for k, v in headers.items()}.get("x-fraudops-sha256")
        actual = hashlib.sha256(payload).hexdigest()
        if expected and actual != expected:
            raise FraudopsError(0, "checksum_mismatch",
                                f"artifact {name}: sha256 {actual}, the server says {expected}")
        temp = destination + ".part"
        with open(temp, "wb") as out:
            out.write(payload)
        os.replace(temp, destination)
        return destination

    def experiments(self):
        return self._request("GET", "/v1/experiments")["experiments"]

    # -- registry and deployment ---------------------------------------------------------------

    def models(self):
        return self._request("GET", "/v1/models")["models"]

    def versions(self, model):
        return self._request("GET", f"/v1/models/{self._segment(model)}/versions")["versions"]

    def get_version(self, model, version="latest"):
        return self._request(
            "GET", f"/v1/models/{self._segment(model)}/versions/{self._segment(version)}")

    def lineage(self, model, version="latest"):
        return self._request(
            "GET", f"/v1/models/{self._segment(model)}/versions/{self._segment(version)}/lineage")

    def register(self, run_id, model, description=None):
        """Registers the run's model bundle (its artifacts under model/: bundle.json and the
        files it names, as `fraudops train` or the pipeline writes them) as a new, pending
        version of `model`; the server checks every file and parses the bundle first."""
        body = {"run_id": run_id}
        if description:
            body["description"] = description
        return self._request("POST", f"/v1/models/{self._segment(model)}/versions", body)

    def set_alias(self, model, alias, version):
        return self._request(
            "PUT", f"/v1/models/{self._segment(model)}/aliases/{self._segment(alias)}",
            {"version": version})

    def approve(self, model, version, reason, aliases=None):
        """Approves a version (the approver role; not its own author's run when the registry
        requires a distinct approver)."""
        body = {"reason": reason}
        if aliases:
            body["aliases"] = list(aliases)
        return self._request("POST", f"/v1/admin/models/{self._segment(model)}/versions/"
                                     f"{self._segment(version)}/approve", body)

    def reject(self, model, version, reason, roll_back=False):
        return self._request("POST", f"/v1/admin/models/{self._segment(model)}/versions/"
                                     f"{self._segment(version)}/reject",
                             {"reason": reason, "roll_back": roll_back})

    def deploy(self, endpoint, model, version=None, alias=None, strategy=None, **params):
        """Deploys a version (or the one an alias names) to an endpoint: strategy
        all_at_once, canary, linear, shadow, …; params as the deploy.* settings."""
        body = {"model": model, **params}
        if version is not None:
            body["version"] = version
        if alias is not None:
            body["alias"] = alias
        if strategy is not None:
            body["strategy"] = strategy
        return self._request("POST", f"/v1/admin/endpoints/{self._segment(endpoint)}/deployments",
                             body)

    def rollback(self, endpoint, reason):
        return self._request("POST", f"/v1/admin/endpoints/{self._segment(endpoint)}/rollback",
                             {"reason": reason})

    def endpoint(self, endpoint):
        """An endpoint's variants, deployment in progress and live rollout statistics."""
        return self._request("GET", f"/v1/admin/endpoints/{self._segment(endpoint)}")

    def whoami(self):
        return self._request("GET", "/v1/admin/whoami")


class Run:
    """A run logged from outside; its author logs to it until it finishes."""

    def __init__(self, client, record):
        self.client = client
        self.record = record
        self.run_id = record["run_id"]
        self._path = "/v1/runs/" + Client._segment(self.run_id)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.finish("succeeded")
        else:
            self.finish("failed", f"{kind.__name__}: {error}")
        return False

    def log_params(self, params):
        return self.client._request("POST", self._path + "/params", {"params": params})

    def log_param(self, name, value):
        return self.log_params({name: value})

    def log_metrics(self, metrics, step=None):
        body = {"metrics": {k: float(v) for k, v in metrics.items()}}
        if step is not None:
            body["step"] = int(step)
        return self.client._request("POST", self._path + "/metrics", body)

    def log_metric(self, name, value, step=None):
        return self.log_metrics({name: value}, step)

    def set_tags(self, tags):
        return self.client._request("POST", self._path + "/tags", {"tags": tags})

    def log_artifact(self, local_path, name=None):
        """Uploads a file as artifact `name` (default: its file name); returns its record
        with the sha256 the server computed, checked against the file's."""
        with open(local_path, "rb") as f:
            payload = f.read()
        name = name or os.path.basename(local_path)
        record = self.client._request("PUT", self._path + "/artifact", query={"path": name},
                                      raw=payload, content_type="application/octet-stream")
        if record["sha256"] != hashlib.sha256(payload).hexdigest():
            raise FraudopsError(0, "checksum_mismatch",
                                f"artifact {name}: the server stored other bytes than were sent")
        return record

    def finish(self, status="succeeded", error=None):
        body = {"status": status}
        if error:
            body["error"] = error
        self.record = self.client._request("POST", self._path + "/finish", body)
        return self.record
