"""The official Python SDK (dune-client from PyPI), pointed at the emulator, must work
unchanged: this is how we know the emulator speaks the Dune API and not our idea of it.

Run by scripts/test.sh: DUNE_EMULATOR_BIN names the emulator binary to start."""

import csv
import io
import os
import subprocess
import unittest

from dune_client.client import DuneClient
from dune_client.models import ExecutionState
from dune_client.query import QueryBase
from dune_client.types import QueryParameter

KEY = "emulator-key"
# The emulator account's handle: its namespace for uploads.
NS = "dune_fdw_emulator"
MAX_UINT256 = str(2**256 - 1)


class Fidelity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("DUNE_EMULATOR_BIN", "target/debug/dune-emulator")
        cls.proc = subprocess.Popen(
            [binary, "--port", "0", "--pending-ms", "50", "--execution-ms", "300"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = cls.proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        api_url = line.removeprefix("listening on ")
        cls.base = api_url.removesuffix("/api")
        cls.client = DuneClient(api_key=KEY, base_url=cls.base, request_timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)

    def test_run_query_returns_the_documented_first_row(self):
        rows = self.client.run_query(QueryBase(query_id=1258228), ping_frequency=1).get_rows()
        self.assertEqual(len(rows), 12)
        first = rows[0]
        self.assertEqual(first["block_time"], "2021-06-04 00:11:44.000 UTC")
        self.assertEqual(first["token_bought_amount_raw"], "2662657507914878729")
        self.assertIsNone(first["maker"])
        self.assertEqual(list(first.keys()), sorted(first.keys()), "keys come in alphabetical order")

    def test_run_query_with_parameters_and_small_batches_follows_every_page(self):
        query = QueryBase(query_id=1252207, params=[QueryParameter.enum_type("Time Period", "week")])
        result = self.client.run_query(query, ping_frequency=1, batch_size=5)
        rows = result.get_rows()
        self.assertEqual([r["Rank"] for r in rows], list(range(1, 29)))
        self.assertEqual(result.result.metadata.column_types[:2], ["bigint", "varchar"])

    def test_run_query_csv_joins_pages_under_one_header(self):
        result = self.client.run_query_csv(QueryBase(query_id=3493826), ping_frequency=1, batch_size=3)
        table = list(csv.reader(io.TextIOWrapper(result.data, encoding="utf-8")))
        self.assertEqual(table[0], ["ct", "TableName"])
        self.assertEqual(len(table), 9)
        self.assertEqual(table[1], ["1200", "ethereum.transactions"])

    def test_get_latest_result_pages_through_the_latest_execution(self):
        result = self.client.get_latest_result(1252207, batch_size=10)
        rows = result.get_rows()
        self.assertEqual(len(rows), 28)
        self.assertEqual(rows[0]["project"], "opensea")
        self.assertEqual(rows[27]["project"], "oneplanet")

    def test_status_and_paginated_results(self):
        job = self.client.execute_query(QueryBase(query_id=1258228))
        self.assertEqual(len(job.execution_id), 26)
        self.assertTrue(job.execution_id.startswith("01"))
        status = self.client.get_execution_status(job.execution_id)
        self.assertIn(status.state, {ExecutionState.PENDING, ExecutionState.EXECUTING})
        while not status.state.is_complete():
            import time

            time.sleep(0.2)
            status = self.client.get_execution_status(job.execution_id)
        self.assertEqual(status.result_metadata.total_row_count, 12)
        page = self.client.get_execution_results(job.execution_id, limit=5, columns=["tx_hash", "usd_amount"])
        seen = list(page.get_rows())
        while page.next_uri is not None:
            page = self.client._get_execution_results_by_url(url=page.next_uri)
            seen.extend(page.get_rows())
        self.assertEqual(len(seen), 12)
        self.assertEqual(set(seen[0].keys()), {"tx_hash", "usd_amount"})

    def test_cancel_execution(self):
        job = self.client.execute_query(QueryBase(query_id=9000003))
        self.assertTrue(self.client.cancel_execution(job.execution_id))
        status = self.client.get_execution_status(job.execution_id)
        self.assertEqual(status.state, ExecutionState.CANCELLED)
        self.assertIsNotNone(status.times.cancelled_at)

    def test_run_sql(self):
        rows = self.client.run_sql("select * from query_3493826 limit 2", ping_frequency=1).get_rows()
        self.assertEqual([r["ct"] for r in rows], [1200, 880])

    def test_query_management_create_get_update_archive_private(self):
        created = self.client.create_query(
            "fidelity", "select 1 as one", params=[QueryParameter.number_type("n", 7)], is_private=True
        )
        query_id = created.base.query_id
        self.assertEqual(created.base.name, "fidelity")
        self.assertEqual(created.sql, "select 1 as one")
        self.assertTrue(created.meta.is_private)
        self.assertEqual(created.base.params[0].key, "n")
        self.assertEqual(self.client.update_query(query_id, query_sql="select 2 as one", description="d"), query_id)
        again = self.client.get_query(query_id)
        self.assertEqual((again.sql, again.meta.description, again.meta.version), ("select 2 as one", "d", 2))
        self.assertTrue(self.client.archive_query(query_id))
        self.assertFalse(self.client.unarchive_query(query_id))
        self.client.make_public(query_id)
        self.assertFalse(self.client.get_query(query_id).meta.is_private)
        self.client.make_private(query_id)
        rows = self.client.run_query(QueryBase(query_id=query_id), ping_frequency=1).get_rows()
        self.assertEqual(rows, [{"one": 2}])

    def test_a_read_key_may_not_write(self):
        reader = DuneClient(api_key="emulator-read-key", base_url=self.base)
        self.assertEqual(reader.get_query(1252207).base.name, "NFT marketplace volumes")
        with self.assertRaises(Exception) as ctx:
            reader.create_query("nope", "select 1")
        self.assertIn("403", str(ctx.exception))

    def test_get_usage(self):
        usage = self.client.get_usage()
        self.assertEqual(len(usage.billing_periods), 1)
        self.assertGreaterEqual(usage.billing_periods[0].credits_used, 0)
        self.assertGreater(usage.billing_periods[0].credits_included, 0)
        self.assertEqual(self.client.get_usage(start_date="2001-01-01", end_date="2001-02-01").billing_periods, [])

    def test_rejected_key_is_a_401(self):
        bad = DuneClient(api_key="wrong", base_url=self.base)
        with self.assertRaises(Exception) as ctx:
            bad.get_execution_status("01HKZJ2683PHF9Q9PHHQ8FW4Q1")
        self.assertIn("401", str(ctx.exception))

    # --- table uploads (API reference §9), through the SDK's UploadsAPI unchanged ---

    def test_uploads_create_insert_csv_and_ndjson_then_read_back_clear_and_delete(self):
        name = "fidelity_trades"
        full = f"dune.{NS}.{name}"
        schema = [
            {"name": "id", "type": "integer", "nullable": False},
            {"name": "trader", "type": "varbinary"},
            {"name": "amount", "type": "uint256"},
            {"name": "at", "type": "timestamp"},
        ]
        created = self.client.create_table(NS, name, schema, description="fidelity", is_private=True)
        self.assertEqual((created.namespace, created.table_name, created.full_name), (NS, name, full))
        self.assertEqual(created.example_query, f"select * from {full} limit 10")
        csv_body = io.BytesIO(b"id,trader,amount,at\n1,0xAB01,1000,2024-01-01T00:00:00Z\n")
        written = self.client.insert_data(NS, name, csv_body, content_type="text/csv")
        self.assertEqual((written.rows_written, written.name), (1, full))
        line = f'{{"id": 2, "trader": "qwE=", "amount": {MAX_UINT256}, "at": "2024-01-02 03:04:05.678"}}\n'
        written = self.client.insert_data(NS, name, io.BytesIO(line.encode()), content_type="application/x-ndjson")
        self.assertEqual(written.rows_written, 1)
        result = self.client.run_sql(f"select * from {full}", ping_frequency=1)
        self.assertEqual(result.result.metadata.column_types, ["integer", "varbinary", "uint256", "timestamp"])
        self.assertEqual(
            result.get_rows(),
            [
                {"amount": "1000", "at": "2024-01-01 00:00:00.000", "id": 1, "trader": "0xab01"},
                {"amount": MAX_UINT256, "at": "2024-01-02 03:04:05.678", "id": 2, "trader": "0xab01"},
            ],
        )
        listed = self.client.list_uploads(limit=100)
        table = next(t for t in listed.tables if t.full_name == full)
        self.assertTrue(table.is_private)
        self.assertEqual([(c.name, c.type, c.nullable) for c in table.columns][:2], [("id", "integer", False), ("trader", "varbinary", True)])
        self.assertGreater(int(table.table_size_bytes), 0)
        self.assertEqual(self.client.clear_table(NS, name).message, f"Table {full} successfully cleared")
        self.assertEqual(self.client.run_sql(f"select id from {full}", ping_frequency=1).get_rows(), [])
        self.assertEqual(self.client.delete_table(NS, name).message, f"Table {NS}.{name} successfully deleted")
        with self.assertRaises(Exception) as ctx:
            self.client.delete_table(NS, name)
        self.assertIn("404", str(ctx.exception))

    def test_uploads_insert_with_a_bad_row_is_refused_whole(self):
        name = "fidelity_atomic"
        self.client.create_table(NS, name, [{"name": "n", "type": "bigint", "nullable": False}])
        with self.assertRaises(Exception) as ctx:
            self.client.insert_data(NS, name, io.BytesIO(b"n\n1\n2.5\n"), content_type="text/csv")
        self.assertIn("400", str(ctx.exception))
        self.assertIn("line 3: column 'n' (bigint)", ctx.exception.response.json()["error"])
        self.assertEqual(self.client.run_sql(f"select * from dune.{NS}.{name}", ping_frequency=1).get_rows(), [])
        with self.assertRaises(Exception) as ctx:
            self.client.create_table(NS, name, [{"name": "n", "type": "bigint"}])
        self.assertIn("409", str(ctx.exception))
        self.client.delete_table(NS, name)

    def test_upload_csv_makes_a_dataset_table_with_inferred_types(self):
        data = "id,name,value\n1,Alice,10.5\n2,Bob,20.3\n3,Charlie,15.7\n"
        uploaded = self.client.upload_csv("fidelity_people", data, description="people", is_private=False)
        self.assertEqual(uploaded.table_name, "fidelity_people")
        result = self.client.run_sql(f"select name, value from dune.{NS}.dataset_fidelity_people", ping_frequency=1)
        self.assertEqual(result.result.metadata.column_types, ["varchar", "double"])
        self.assertEqual([r["value"] for r in result.get_rows()], [10.5, 20.3, 15.7])
        self.client.delete_table(NS, "dataset_fidelity_people")

    def test_a_read_key_may_list_tables_but_not_create_them(self):
        reader = DuneClient(api_key="emulator-read-key", base_url=self.base)
        self.assertIsInstance(reader.list_uploads().tables, list)
        with self.assertRaises(Exception) as ctx:
            reader.create_table(NS, "fidelity_nope", [{"name": "n", "type": "bigint"}])
        self.assertIn("403", str(ctx.exception))


if __name__ == "__main__":
    runner = unittest.TextTestRunner(verbosity=2)
    outcome = runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Fidelity))
    failed = len(outcome.failures) + len(outcome.errors)
    print(f"sdk fidelity: {outcome.testsRun - failed} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)
