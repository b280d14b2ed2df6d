#!/usr/bin/env python3
"""Generates the auto-insurance claims example's two tables (examples/auto-claims/README.md):
customers.csv (policy holders' profiles, with the time each version was true and the time it
was recorded) and claims.csv (claims with their time and a fraud label), in the shape of the
AWS auto-insurance fraud workflow's claims and customers data, joined on policy_id.

Fraud depends on the claim itself, on the customer's profile *as it was at the claim* and on
the policy's recent claims, so a model needs both tables, joined point in time.

Usage: generate.py [--policies N] [--claims N] [--seed S] [--out DIR]"""
import argparse
import csv
import math
import os
import random
from datetime import datetime, timedelta, timezone

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAYS = 730
STATES = ["CA", "AZ", "NV", "OR", "WA", "UT", "ID"]
EDUCATION = ["High School", "Associate", "Bachelor", "Masters", "PhD"]
INCIDENTS = ["Parked Car", "Single Vehicle Collision", "Multi-vehicle Collision", "Theft"]
SEVERITY = ["Trivial Damage", "Minor Damage", "Major Damage", "Total Loss"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--claims", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="data")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    # Customers: a first profile at the policy's start, then updates (more insurers, a new
    # premium) recorded a few days after they happen.
    profiles = {}  # policy -> [(event time, profile)]
    rows = []
    for p in range(args.policies):
        policy = f"POL-{p:06d}"
        joined = START - timedelta(days=rng.uniform(30, 3000))
        profile = {
            "customer_age": rng.randint(18, 80),
            "months_as_customer": 0,
            "num_insurers_past_5_years": rng.choice([1, 1, 1, 2, 2, 3]),
            "policy_state": rng.choice(STATES),
            "customer_education": rng.choice(EDUCATION),
            "policy_deductable": rng.choice([750, 1000, 1500, 2000]),
            "policy_annual_premium": round(rng.uniform(1500, 3500), 2),
        }
        times = [START - timedelta(days=rng.uniform(0, 60))]
        for _ in range(rng.choice([0, 0, 1, 2])):
            times.append(START + timedelta(days=rng.uniform(0, DAYS)))
        versions = []
        for i, t in enumerate(sorted(times)):
            if i > 0:
                profile = dict(profile)
                profile["num_insurers_past_5_years"] += rng.choice([0, 1, 1, 2])
                profile["policy_annual_premium"] = round(profile["policy_annual_premium"] * rng.uniform(0.9, 1.4), 2)
            profile["months_as_customer"] = max(0, int((t - joined).days / 30.4))
            recorded = t + timedelta(hours=rng.uniform(1, 96))
            versions.append((t, profile))
            rows.append({"policy_id": policy, "customer_updated_at": iso(t), "recorded_at": iso(recorded), **profile})
        profiles[policy] = versions
    with open(os.path.join(args.out, "customers.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)

    # Claims, in time order; some policies are "ring" members that claim often.
    ring = set(rng.sample(sorted(profiles), k=max(1, args.policies // 40)))
    policies = sorted(profiles)
    times = sorted(START + timedelta(days=rng.uniform(0, DAYS)) for _ in range(args.claims))
    history = {}  # policy -> claim times
    claims = []
    for n, t in enumerate(times):
        policy = rng.choice(sorted(ring)) if rng.random() < 0.12 else rng.choice(policies)
        profile = [pr for (pt, pr) in profiles[policy] if pt <= t]
        profile = profile[-1] if profile else profiles[policy][0][1]
        recent = [c for c in history.get(policy, []) if (t - c).days < 365]
        incident = rng.choice(INCIDENTS)
        severity = rng.choices(SEVERITY, weights=[3, 4, 2, 1])[0]
        witnesses = rng.choice([0, 0, 1, 1, 2, 3])
        police = rng.choice(["YES", "NO"]) if incident != "Theft" else "YES"
        injuries = rng.choice([0, 0, 0, 1, 2])
        amount = round(rng.lognormvariate(8.3 + SEVERITY.index(severity) * 0.5, 0.5), 2)
        score = (-9.0 + 1.1 * len(recent) + 0.7 * (profile["num_insurers_past_5_years"] - 1)
                 + 0.9 * (severity == "Total Loss") + 0.8 * (police == "NO")
                 + 0.6 * (witnesses == 0) + 0.7 * (profile["months_as_customer"] < 12)
                 + 1.2 * (policy in ring))
        fraud = 1 if rng.random() < 1 / (1 + math.exp(-score)) else 0
        claims.append({"claim_id": f"CLM-{n:07d}", "policy_id": policy, "claim_time": iso(t),
                       "incident_type": incident, "incident_severity": severity,
                       "num_vehicles_involved": 1 if incident in ("Parked Car", "Single Vehicle Collision", "Theft") else rng.randint(2, 4),
                       "num_injuries": injuries, "num_witnesses": witnesses,
                       "police_report_available": police, "total_claim_amount": amount,
                       "fraud": fraud})
        history.setdefault(policy, []).append(t)
    with open(os.path.join(args.out, "claims.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(claims[0].keys()))
        writer.writeheader()
        writer.writerows(claims)
    frauds = sum(c["fraud"] for c in claims)
    print(f"wrote {len(rows)} customer profile rows and {len(claims)} claims ({frauds} fraudulent) to {args.out}/")


if __name__ == "__main__":
    main()
