"""The aws CLI v2 (/usr/bin/aws) against riffle: tables, items, queries,
waiters and batch writes."""

import json
import os
import subprocess
import uuid

import pytest

AWS = "/usr/bin/aws"


def aws(endpoint, *args, check=True):
    r = subprocess.run([AWS, "--endpoint-url", endpoint, "--output", "json", "dynamodb", *args],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, AWS_MAX_ATTEMPTS="1"))
    if check:
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else {}
    return r


@pytest.mark.skipif(not os.access(AWS, os.X_OK), reason="aws CLI v2 not installed")
def test_cli_round_trip(riffle):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    e = riffle.aws
    aws(e, "create-table", "--table-name", name,
        "--attribute-definitions", "AttributeName=pk,AttributeType=S",
        "AttributeName=sk,AttributeType=N",
        "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
        "--billing-mode", "PAY_PER_REQUEST")
    aws(e, "wait", "table-exists", "--table-name", name)
    for i in range(5):
        aws(e, "put-item", "--table-name", name, "--item",
            json.dumps({"pk": {"S": "a"}, "sk": {"N": str(i)}, "v": {"S": f"x{i}"}}))
    r = aws(e, "query", "--table-name", name, "--key-condition-expression", "pk = :p AND sk > :s",
            "--expression-attribute-values", json.dumps({":p": {"S": "a"}, ":s": {"N": "2"}}))
    assert [i["sk"]["N"] for i in r["Items"]] == ["3", "4"]
    # The CLI paginates by itself with --page-size.
    r = aws(e, "scan", "--table-name", name, "--page-size", "2")
    assert r["Count"] == 5
    r = aws(e, "update-item", "--table-name", name, "--key",
            json.dumps({"pk": {"S": "a"}, "sk": {"N": "1"}}),
            "--update-expression", "SET v = :v", "--expression-attribute-values",
            json.dumps({":v": {"S": "new"}}), "--return-values", "ALL_NEW")
    assert r["Attributes"]["v"] == {"S": "new"}
    r = aws(e, "put-item", "--table-name", name, "--item",
            json.dumps({"pk": {"S": "a"}, "sk": {"N": "1"}}),
            "--condition-expression", "attribute_not_exists(pk)", check=False)
    assert r.returncode != 0 and "ConditionalCheckFailedException" in r.stderr
    aws(e, "batch-write-item", "--request-items", json.dumps(
        {name: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": str(i)}}}}
                for i in range(5)]}))
    assert aws(e, "scan", "--table-name", name)["Count"] == 0
    assert name in aws(e, "list-tables")["TableNames"]
    aws(e, "delete-table", "--table-name", name)
    aws(e, "wait", "table-not-exists", "--table-name", name)
