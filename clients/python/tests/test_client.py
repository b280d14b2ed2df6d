"""The Python client against a live `fraudops serve` (tests/serve_test.cc starts one and sets
the FRAUDOPS_TEST_* variables; run alone, these tests are skipped)."""

import csv
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import fraudops_client  # noqa: E402
from fraudops_client import Client  # noqa: E402

URL = os.environ.get("FRAUDOPS_TEST_URL")
ENDPOINT = os.environ.get("FRAUDOPS_TEST_ENDPOINT", "fraud")

try:
    import pandas
except ImportError:  # the DataFrame tests need Debian's python3-pandas
    pandas = None


def rows():
    """The test transactions (tests/data/bundles/rows.csv), without the label."""
    with open(os.environ["FRAUDOPS_TEST_ROWS"], newline="") as f:
        out = []
        for record in csv.DictReader(f):
            record.pop("Class", None)
            out.append({k: float(v) if v not in ("", "NA") else None for k, v in record.items()})
        return out


@unittest.skipUnless(URL, "FRAUDOPS_TEST_URL is not set: tests/serve_test.cc runs these")
class ClientTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(URL, token=os.environ["FRAUDOPS_TEST_TOKEN"],
                             api_key=os.environ["FRAUDOPS_TEST_API_KEY"])

    def test_scores_dicts_lists_and_a_dataframe_alike(self):
        transactions = rows()
        one = self.client.predict(ENDPOINT, transactions[0])
        self.assertTrue(0.0 <= one["score"] <= 1.0)
        listed = self.client.predict(ENDPOINT, transactions[:5])
        self.assertEqual(len(listed), 5)
        self.assertAlmostEqual(listed[0]["score"], one["score"], places=12)
        if pandas is None:
            self.skipTest("pandas is not installed")
        frame = pandas.DataFrame(transactions[:5], index=[10, 11, 12, 13, 14])
        scored = self.client.predict(ENDPOINT, frame)
        self.assertIsInstance(scored, pandas.DataFrame)
        self.assertEqual(list(scored.index), [10, 11, 12, 13, 14])
        for got, want in zip(scored["score"], listed):
            self.assertAlmostEqual(got, want["score"], places=12)
        self.assertTrue(set(scored["label"]) <= {0, 1})
        # The Open Inference Protocol gives the same scores.
        outputs = self.client.infer(ENDPOINT, frame)
        for got, want in zip(outputs["score"], listed):
            self.assertAlmostEqual(got, want["score"], places=6)

    def test_explains_and_takes_feedback_for_what_it_scored(self):
        explained = self.client.explain(ENDPOINT, rows()[:3], top=2)
        self.assertEqual([len(p["reasons"]) for p in explained], [2, 2, 2])
        labels = {p["request_id"]: i % 2 for i, p in enumerate(explained)}
        answer = self.client.feedback(ENDPOINT, labels)
        self.assertEqual(answer["stored"], 3, answer)

    def test_errors_carry_the_servers_code_and_details(self):
        transaction = dict(rows()[0])
        del transaction["V14"]
        with self.assertRaises(fraudops_client.InvalidFeatures) as caught:
            self.client.predict(ENDPOINT, transaction)
        self.assertEqual(caught.exception.status, 422)
        self.assertEqual(caught.exception.code, "invalid_features")
        self.assertIn("V14", json.dumps(caught.exception.details["missing"]))
        with self.assertRaises(fraudops_client.NotFound):
            self.client.predict("no-such-endpoint", rows()[0])
        with self.assertRaises(fraudops_client.Unauthorized):
            Client(URL, token="fops_nobody_nothing").models()
        # A data scientist may not approve: 403 naming the permission.
        with self.assertRaises(fraudops_client.Forbidden) as refused:
            self.client.approve("fraud", 1, "looks fine")
        self.assertEqual(refused.exception.details["permission"], "approve")
        with self.assertRaises(fraudops_client.ConnectionFailed):
            Client("http://127.0.0.1:1", token="x", retries=0).predict(ENDPOINT, rows()[0])

    def test_429_is_retried_after_retry_after_and_raised_when_retries_run_out(self):
        limited = os.environ["FRAUDOPS_TEST_LIMITED_KEY"]  # a plan of 1 request a second
        transaction = rows()[0]
        patient = Client(URL, api_key=limited, retries=3)
        impatient = Client(URL, api_key=limited, retries=0)
        patient.predict(ENDPOINT, transaction)
        with self.assertRaises(fraudops_client.RateLimited) as caught:
            impatient.predict(ENDPOINT, transaction)
        self.assertGreater(caught.exception.retry_after, 0)
        started = time.monotonic()
        self.assertIn("score", patient.predict(ENDPOINT, transaction))
        self.assertGreater(time.monotonic() - started, 0.2)  # it waited for the bucket

    def test_a_notebook_run_is_logged_found_and_its_files_read_back(self):
        with tempfile.TemporaryDirectory() as scratch:
            plot = os.path.join(scratch, "importance.csv")
            with open(plot, "w") as f:
                f.write("feature,importance\nV14,0.31\n")
            with self.client.start_run("notebooks", name="client test",
                                       params={"eta": 0.1}) as run:
                run.log_params({"max_depth": 6})
                for step in range(30):
                    run.log_metrics({"valid.auc": 0.9 + step / 1000.0}, step=step)
                run.log_metric("test.pr_auc", 0.81)
                run.set_tags({"team": "risk"})
                record = run.log_artifact(plot, "plots/importance.csv")
            self.assertEqual(run.record["status"], "succeeded")
            self.assertEqual(record["size"], os.path.getsize(plot))
            found = self.client.search_runs(filter="test.pr_auc >= 0.8 and tags.team = risk",
                                            order_by="test.pr_auc", metrics=["test.pr_auc"])
            ids = list(found["run_id"]) if pandas is not None else [r["run_id"] for r in found]
            self.assertIn(run.run_id, ids)
            # No study has run here: with trials="only" nothing is found, without them the run is.
            self.assertEqual(len(self.client.search_runs(trials="only")), 0)
            self.assertEqual(len(self.client.search_runs(filter="tags.team = risk",
                                                         trials="exclude")), 1)
            steps, values = self.client.metric_history(run.run_id, "valid.auc", max_points=10)
            self.assertLessEqual(len(steps), 10)
            self.assertEqual((steps[0], steps[-1]), (0, 29))
            copy = os.path.join(scratch, "copy.csv")
            self.client.download_artifact(run.run_id, "plots/importance.csv", copy)
            with open(plot) as a, open(copy) as b:
                self.assertEqual(a.read(), b.read())
            shown = self.client.get_run(run.run_id)
            self.assertEqual(shown["params"], {"eta": "0.1", "max_depth": "6"})
            out = os.environ.get("FRAUDOPS_TEST_OUT")
            if out:
                with open(out, "w") as f:
                    f.write(run.run_id)

    def test_a_block_that_raises_fails_its_run(self):
        with self.assertRaises(ZeroDivisionError):
            with self.client.start_run("notebooks", name="broken") as run:
                1 / 0
        shown = self.client.get_run(run.run_id)
        self.assertEqual(shown["status"], "failed")
        self.assertIn("ZeroDivisionError", shown["error"])
        with self.assertRaises(fraudops_client.Conflict):
            run.log_metric("late", 1.0)

    def test_a_runs_bundle_is_registered_pending_and_a_broken_one_refused(self):
        bundle = os.environ["FRAUDOPS_TEST_BUNDLE"]
        with self.client.start_run("notebooks", name="own model") as run:
            for name in ("bundle.json", "model.json", "baseline.json"):
                run.log_artifact(os.path.join(bundle, name), "model/" + name)
        version = self.client.register(run.run_id, "notebook-model", "trained in a notebook")
        self.assertEqual((version["model"], version["version"]), ("notebook-model", 1))
        self.assertEqual(version["approval"], "pending")
        self.assertEqual(self.client.get_version("notebook-model", 1)["run_id"], run.run_id)
        with self.client.start_run("notebooks", name="no model") as empty:
            empty.log_metric("x", 1.0)
        with self.assertRaises(fraudops_client.BadRequest) as refused:
            self.client.register(empty.run_id, "notebook-model")
        self.assertIn("model/bundle.json", refused.exception.message)

    def test_the_registry_reads_as_the_cli_does(self):
        models = self.client.models()
        self.assertEqual(models[0]["name"], "fraud")
        lineage = self.client.lineage("fraud", 1)
        kinds = {node["kind"] for node in lineage["graph"]["nodes"]}
        self.assertIn("endpoint", kinds)
        self.assertEqual(self.client.whoami()["roles"], ["data_scientist"])


if __name__ == "__main__":
    unittest.main()
