"""The deployment template: `chalice package` merged with infra/resources.json.

Packaging runs once per stage, on a copy of the project whose requirements.txt
is empty: the template does not depend on the third-party wheels, and building
them would download from PyPI. `make package` builds the real deployment zip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import MIN_SIGNING_KEY_LENGTH, Settings, parse_signing_keys
from infra import provision

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Chalice's logical id of each function, and the name the template gives it.
FUNCTIONS = {
    "APIHandler": "api-handler",
    "AuditStream": "audit-stream",
    "EventsStream": "events-stream",
    "WebhookSender": "webhook-sender",
    "ImportQueue": "import-queue",
    "ExpireReservations": "expire-reservations",
    "ReconcileLedger": "reconcile-ledger",
    "ExpireLots": "expire-lots",
    "Replenish": "replenish",
    "ExpireHolds": "expire-holds",
}
TABLES = ("MainTable", "HistoryTable", "IdempotencyTable", "EventsTable")
ITEM_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
STREAM_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
# The namespace of the service's own metrics (chalicelib/observability.py).
ALARM_NAMESPACE = "Stockroom"
SCHEDULED = ("ExpireReservations", "ReconcileLedger", "ExpireLots", "ExpireHolds", "Replenish")
# Services whose permissions must always name their resources.
SCOPED_SERVICES = {"dynamodb", "s3", "sqs", "secretsmanager", "logs"}


# -- packaging -----------------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "prod"])
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stage: str = request.param
    project = tmp_path_factory.mktemp(f"project-{stage}")
    skip = shutil.ignore_patterns("__pycache__", "deployments", "venv")
    shutil.copy(ROOT / "app.py", project)
    for folder in ("chalicelib", "infra", ".chalice"):
        shutil.copytree(ROOT / folder, project / folder, ignore=skip)
    (project / "requirements.txt").write_text("")
    out = project / "build"
    result = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", "infra/resources.json", str(out)],
        cwd=project,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "sam.json"


@pytest.fixture(scope="module")
def template(package: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(package.read_text())
    return loaded


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


# -- helpers -------------------------------------------------------------------


def refs(value: Any) -> set[str]:
    """Logical ids an intrinsic value points at (Ref, Fn::GetAtt, Fn::Sub), pseudo parameters left out."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= refs(item)
    elif isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        elif "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        elif "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
            found |= refs(list(variables.values()))
        else:
            for item in value.values():
                found |= refs(item)
    return {name for name in found if not name.startswith("AWS::")}


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: res for name, res in resources.items() if res.get("Type") == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def role_of(resources: dict[str, Any], function: str) -> dict[str, Any]:
    (role_name,) = refs(resources[function]["Properties"]["Role"])
    role: dict[str, Any] = resources[role_name]
    return role


def grants(resources: dict[str, Any], function: str) -> dict[str, list[Any]]:
    """Action -> the resources the function's role allows it on."""
    allowed: dict[str, list[Any]] = {}
    for statement in statements(role_of(resources, function)):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, []).extend(as_list(statement["Resource"]))
    return allowed


def targets(allowed: dict[str, list[Any]], action: str) -> set[str]:
    return refs(allowed.get(action, []))


def environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    """A function's variables as SAM deploys them: Globals, overridden by the function's own."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def sub_text(value: Any) -> str:
    assert isinstance(value, dict)
    assert "Fn::Sub" in value, value
    sub = value["Fn::Sub"]
    return sub if isinstance(sub, str) else str(sub[0])


# -- the template as a whole -----------------------------------------------------


def test_template_passes_cfn_lint(package: Path) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--", str(package)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_functions_are_the_ones_chalice_generates(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    assert functions["AuditStream"]["Properties"]["Handler"] == "chalicelib.events.blueprint.audit_stream"
    assert functions["ImportQueue"]["Properties"]["Handler"] == "chalicelib.events.blueprint.import_queue"
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.11"
        assert props["Tracing"] == "Active"
        assert sub_text(props["FunctionName"]) == "${AWS::StackName}-" + FUNCTIONS[name]
    # API Gateway gives up after 29 s; the importer may stream a large file for the full 15 minutes.
    assert functions["APIHandler"]["Properties"]["Timeout"] <= 29
    assert functions["ImportQueue"]["Properties"]["Timeout"] == 900
    assert resources["RestAPI"]["Properties"]["EndpointConfiguration"] == "REGIONAL"


def test_schedules_are_generated(resources: dict[str, Any]) -> None:
    for name in SCHEDULED:
        events = resources[name]["Properties"]["Events"]
        assert [event["Type"] for event in events.values()] == ["Schedule"]


def test_each_log_group_belongs_to_its_function(resources: dict[str, Any]) -> None:
    groups = of_type(resources, "AWS::Logs::LogGroup")
    owners = {next(iter(refs(group["Properties"]["LogGroupName"]))) for group in groups.values()}
    assert owners == set(FUNCTIONS)
    for group in groups.values():
        assert sub_text(group["Properties"]["LogGroupName"]).startswith("/aws/lambda/${")
        assert group["Properties"]["RetentionInDays"] > 0


# -- tables ----------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", TABLES)
def test_tables_are_the_ones_the_local_stack_builds(resources: dict[str, Any], logical_id: str) -> None:
    props = resources[logical_id]["Properties"]
    local = provision.table_kwargs(logical_id, "any-name")
    assert local["AttributeDefinitions"] == props["AttributeDefinitions"]
    assert local["KeySchema"] == props["KeySchema"]
    assert local["BillingMode"] == props["BillingMode"]
    assert local.get("GlobalSecondaryIndexes") == props.get("GlobalSecondaryIndexes")
    if "StreamSpecification" in props:
        assert local["StreamSpecification"] == {"StreamEnabled": True, **props["StreamSpecification"]}
    else:
        assert "StreamSpecification" not in local
    assert provision.resources()[logical_id]["Properties"].get("TimeToLiveSpecification") == props.get(
        "TimeToLiveSpecification"
    )


@pytest.mark.parametrize("logical_id", TABLES)
def test_tables_are_recoverable_and_encrypted(resources: dict[str, Any], logical_id: str) -> None:
    table = resources[logical_id]
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_business_table_streams_old_and_new_images(resources: dict[str, Any]) -> None:
    assert resources["MainTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


# -- audit stream ----------------------------------------------------------------


@pytest.mark.parametrize("function", ["AuditStream", "EventsStream"])
def test_stream_mappings_report_failures_bisect_and_give_up(resources: dict[str, Any], function: str) -> None:
    mappings = [
        m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if refs(m["Properties"]["FunctionName"]) == {function}
    ]
    assert len(mappings) == 1
    props = mappings[0]["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["MainTable", "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 <= props["MaximumRetryAttempts"] <= 5
    # Bounded, and shorter than the stream's 24 h retention so failures can still be replayed.
    assert 60 <= props["MaximumRecordAgeInSeconds"] < 86_400
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert 1 <= props["BatchSize"] <= 1000
    (failure_queue,) = refs(props["DestinationConfig"]["OnFailure"]["Destination"])
    assert resources[failure_queue]["Type"] == "AWS::SQS::Queue"
    # Lambda sends the failure record with the function's own role.
    assert failure_queue in targets(grants(resources, function), "sqs:SendMessage")


def test_only_the_audit_and_events_functions_read_the_stream(resources: dict[str, Any]) -> None:
    # Two consumers of the same stream (DynamoDB allows two per shard): history and domain events.
    readers = {"AuditStream", "EventsStream"}
    for name in readers:
        allowed = grants(resources, name)
        for action in STREAM_ACTIONS:
            assert allowed[action] == [{"Fn::GetAtt": ["MainTable", "StreamArn"]}]
    for name in set(FUNCTIONS) - readers:
        assert not STREAM_ACTIONS & set(grants(resources, name))


def test_webhook_deliveries_go_through_a_fifo_queue_with_a_fifo_dead_letter_queue(resources: dict[str, Any]) -> None:
    queue = resources["WebhookQueue"]["Properties"]
    dead = resources["WebhookDeadLetterQueue"]["Properties"]
    assert queue["FifoQueue"] is True and dead["FifoQueue"] is True
    assert refs(queue["RedrivePolicy"]["deadLetterTargetArn"]) == {"WebhookDeadLetterQueue"}
    # At least the sender's timeout, so a running attempt is never handed to a second sender.
    assert queue["VisibilityTimeout"] >= resources["WebhookSender"]["Properties"]["Timeout"]
    event = resources["WebhookSender"]["Properties"]["Events"]["WebhookSenderSqsEventSource"]["Properties"]
    assert refs(event["Queue"]) == {"WebhookQueue"}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert resources["EventsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


# -- files bucket and the import queue ---------------------------------------------


def test_bucket_notifies_the_import_queue_of_uploads_and_dropped_csv(resources: dict[str, Any]) -> None:
    bucket = resources["FilesBucket"]
    configs = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    filters = set()
    for config in configs:
        assert refs(config["Queue"]) == {"FileImportQueue"}
        assert config["Event"].startswith("s3:ObjectCreated:")
        rules = {rule["Name"]: rule["Value"] for rule in config["Filter"]["S3Key"]["Rules"]}
        filters.add((rules.get("prefix"), rules.get("suffix")))
    assert ("uploads/", None) in filters
    assert ("dropbox/", ".csv") in filters
    assert all(prefix in {"uploads/", "dropbox/"} for prefix, _ in filters)


def test_import_queue_lets_only_the_files_bucket_send(resources: dict[str, Any]) -> None:
    bucket = resources["FilesBucket"]
    (policy_name,) = [
        name
        for name, policy in of_type(resources, "AWS::SQS::QueuePolicy").items()
        if refs(policy["Properties"]["Queues"]) == {"FileImportQueue"}
    ]
    # S3 checks that it may send before it accepts the notification configuration.
    assert policy_name in as_list(bucket["DependsOn"])
    (statement,) = resources[policy_name]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert refs(statement["Resource"]) == {"FileImportQueue"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    # The bucket cannot be referenced here (that would be a cycle), so the ARN is
    # built from the same name expression as the bucket's.
    source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    name = bucket["Properties"]["BucketName"]["Fn::Sub"]
    assert source == ["arn:${AWS::Partition}:s3:::" + name[0], name[1]]


def test_bucket_is_private_encrypted_and_tls_only(resources: dict[str, Any]) -> None:
    props = resources["FilesBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    policies = of_type(resources, "AWS::S3::BucketPolicy").values()
    (policy,) = [p for p in policies if refs(p["Properties"]["Bucket"]) == {"FilesBucket"}]
    denials = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in denials)


def test_bucket_expires_temporary_files_and_exports(resources: dict[str, Any]) -> None:
    rules = resources["FilesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {rule.get("Prefix"): rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}
    assert expiring["tmp/"] <= 7
    assert expiring["exports/"] <= 30
    assert "uploads/" not in expiring
    assert "dropbox/" not in expiring
    # Packs are a cache (a miss renders again); certificates are the tenant's documents and stay.
    assert expiring["packs/"] <= 90
    # Replay copies of big responses outlive the idempotency record's one-day TTL by a day at most.
    assert expiring["idempotency/"] == 2
    assert "certificates/" not in expiring


def test_handed_out_downloads_expire_after_a_day_and_the_api_can_write_and_sign_them(
    resources: dict[str, Any],
) -> None:
    # A large download lives under exports/ only for its 5-minute URL; a day is the shortest S3 expiry.
    rules = resources["FilesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == "exports/" or r.get("Filter", {}).get("Prefix") == "exports/"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 1
    # The API writes the file and signs the GET with its own role: both must reach the bucket's objects.
    api = grants(resources, "APIHandler")
    for action in ("s3:PutObject", "s3:GetObject"):
        objects = [sub_text(r) for r in api[action] if isinstance(r, dict) and "Fn::Sub" in r]
        assert any(text in {"${FilesBucket.Arn}/*", "${FilesBucket.Arn}/exports/*"} for text in objects), action


def test_import_queue_feeds_the_import_function_and_has_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    events = resources["ImportQueue"]["Properties"]["Events"]
    event = events["ImportQueueSqsEventSource"]
    assert event["Type"] == "SQS"
    assert refs(event["Properties"]["Queue"]) == {"FileImportQueue"}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["FileImportQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    (dead_letters,) = refs(redrive["deadLetterTargetArn"])
    assert resources[dead_letters]["Type"] == "AWS::SQS::Queue"
    assert 1 <= redrive["maxReceiveCount"] <= 10
    # The handler knows a message's last delivery by the same count.
    assert Settings.model_fields["import_max_receives"].default == redrive["maxReceiveCount"]
    # The dead letters come back to the same function, which fails their jobs (no job stays running).
    assert set(events) == {"ImportQueueSqsEventSource", "ImportDeadLettersSqsEventSource"}
    dead = events["ImportDeadLettersSqsEventSource"]
    assert (dead["Type"], refs(dead["Properties"]["Queue"])) == ("SQS", {dead_letters})
    assert dead["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Lambda refuses a queue whose visibility timeout is shorter than the function's timeout.
    assert (
        resources[dead_letters]["Properties"]["VisibilityTimeout"]
        >= 6 * resources["ImportQueue"]["Properties"]["Timeout"]
    )
    # AWS's rule for queues feeding Lambda: at least six times the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * resources["ImportQueue"]["Properties"]["Timeout"]
    assert resources[dead_letters]["Properties"]["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


# -- configuration reaching the functions -------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_told_the_resource_names(template: dict[str, Any], function: str) -> None:
    env = environment(template, function)
    assert refs(env["STOCKROOM_MAIN_TABLE"]) == {"MainTable"}
    assert refs(env["STOCKROOM_HISTORY_TABLE"]) == {"HistoryTable"}
    assert refs(env["STOCKROOM_IDEMPOTENCY_TABLE"]) == {"IdempotencyTable"}
    assert refs(env["STOCKROOM_BUCKET"]) == {"FilesBucket"}
    assert env["STOCKROOM_IMPORT_QUEUE"] == {"Fn::GetAtt": ["FileImportQueue", "QueueName"]}
    assert env["STOCKROOM_IMPORT_DLQ"] == {"Fn::GetAtt": ["FileImportDeadLetterQueue", "QueueName"]}
    assert env["POWERTOOLS_SERVICE_NAME"] == "stockroom"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_stockroom_variable_is_a_setting(template: dict[str, Any], function: str) -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    for name in environment(template, function):
        if name.startswith("STOCKROOM_"):
            assert name in aliases, f"{name} is not read by chalicelib/settings.py"


def test_signing_secret_comes_from_secrets_manager_at_run_time(
    package: Path, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    secret = resources["SigningSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]
    # The API is told which secret (its ARN), never its value: no dynamic reference anywhere.
    assert environment(template, "APIHandler")["STOCKROOM_SIGNING_SECRET_ID"] == {"Ref": "SigningSecret"}
    assert "resolve:secretsmanager" not in package.read_text()
    for function in FUNCTIONS:
        assert "STOCKROOM_SIGNING_SECRET" not in environment(template, function)
    # Only the API reads it, and only that secret.
    for function in FUNCTIONS:
        secrets = {
            action: on for action, on in grants(resources, function).items() if action.startswith("secretsmanager:")
        }
        if function == "APIHandler":
            assert secrets == {
                "secretsmanager:GetSecretValue": [{"Ref": "SigningSecret"}, {"Ref": "OAuthSigningKeysSecret"}]
            }
        else:
            assert secrets == {}


def test_oauth_signing_keys_come_from_their_own_secret_read_at_run_time(
    package: Path, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    secret = resources["OAuthSigningKeysSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generated = secret["Properties"]["GenerateSecretString"]
    assert "SecretString" not in secret["Properties"]
    # CloudFormation writes {"current": "k1", "k1": "<64 random characters>"}: what settings.parse_signing_keys
    # reads (a current kid that is listed, every key at least 32 characters).
    template_keys = json.loads(generated["SecretStringTemplate"])
    key_name = generated["GenerateStringKey"]
    assert template_keys == {"current": key_name}
    assert generated["PasswordLength"] >= MIN_SIGNING_KEY_LENGTH
    assert parse_signing_keys(json.dumps({**template_keys, key_name: "x" * generated["PasswordLength"]})) == (
        key_name,
        {key_name: "x" * generated["PasswordLength"]},
    )
    # The API is told the secret's ARN (fetched through Powertools parameters, cached), never its value.
    assert environment(template, "APIHandler")["STOCKROOM_OAUTH_KEYS_SECRET_ID"] == {"Ref": "OAuthSigningKeysSecret"}
    for function in FUNCTIONS:
        assert "STOCKROOM_OAUTH_KEYS" not in environment(template, function)
        if function != "APIHandler":
            assert "STOCKROOM_OAUTH_KEYS_SECRET_ID" not in environment(template, function)
    assert targets(grants(resources, "APIHandler"), "secretsmanager:GetSecretValue") >= {"OAuthSigningKeysSecret"}
    assert template["Outputs"]["OAuthSigningKeysSecretArn"] == {"Value": {"Ref": "OAuthSigningKeysSecret"}}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_at_info_level(template: dict[str, Any], function: str) -> None:
    env = environment(template, function)
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == ALARM_NAMESPACE
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"


# -- failures reach someone --------------------------------------------------------


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in of_type(resources, "AWS::CloudWatch::Alarm").items()}


def alarm_on(resources: dict[str, Any], namespace: str, metric: str) -> list[dict[str, Any]]:
    """Alarms watching `metric`, directly or inside their metric math."""
    found = []
    for props in alarms(resources).values():
        stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
        watched = [{"Namespace": props.get("Namespace"), "MetricName": props.get("MetricName")}, *stats]
        if any(w["Namespace"] == namespace and w["MetricName"] == metric for w in watched):
            found.append(props)
    return found


def dimensions(props: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}


def dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Every queue failures end in: redrive targets and on-failure destinations."""
    found: set[str] = set()
    for queue in of_type(resources, "AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            found |= refs(redrive["deadLetterTargetArn"])
    for mapping in of_type(resources, "AWS::Lambda::EventSourceMapping").values():
        found |= refs(mapping["Properties"].get("DestinationConfig", {}))
    for function in FUNCTIONS:
        found |= refs(resources[function]["Properties"].get("EventInvokeConfig", {}))
    return found


def test_every_alarm_notifies_the_alarm_topic(resources: dict[str, Any]) -> None:
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert len(alarms(resources)) >= 9
    for name, props in alarms(resources).items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name
        assert "${AWS::StackName}-" in sub_text(props["AlarmName"]), name


def test_every_dead_letter_queue_has_an_alarm_on_any_waiting_message(resources: dict[str, Any]) -> None:
    queues = dead_letter_queues(resources)
    assert queues >= {"FileImportDeadLetterQueue", "AuditFailureQueue", "ScheduleFailureQueue"}
    watched = {}
    for props in alarm_on(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible"):
        (queue,) = refs(dimensions(props)["QueueName"])
        assert dimensions(props)["QueueName"] == {"Fn::GetAtt": [queue, "QueueName"]}
        watched[queue] = props
    assert set(watched) == queues
    for props in watched.values():
        assert (props["ComparisonOperator"], props["Threshold"], props["Statistic"]) == (
            "GreaterThanThreshold",
            0,
            "Maximum",
        )


def test_the_api_5xx_rate_has_an_alarm(resources: dict[str, Any]) -> None:
    (props,) = alarm_on(resources, "AWS/ApiGateway", "5XXError")
    # 5XXError is 0 or 1 per request: its average is the rate.
    assert props["Statistic"] == "Average"
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert 0 < props["Threshold"] <= 0.1
    # The API is named after the stack, so the alarm watches this stack's API and no other.
    assert (
        dimensions(props)["ApiName"] == resources["RestAPI"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}"}
    )
    assert dimensions(props)["Stage"] == resources["RestAPI"]["Properties"]["StageName"]


@pytest.mark.parametrize("table", TABLES)
def test_each_table_has_a_throttle_alarm(resources: dict[str, Any], table: str) -> None:
    mine = [
        props
        for props in alarm_on(resources, "AWS/DynamoDB", "ReadThrottleEvents")
        if any(refs(q["MetricStat"]["Metric"]["Dimensions"]) == {table} for q in props["Metrics"] if "MetricStat" in q)
    ]
    (props,) = mine
    watched = {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}
    assert watched == {"ReadThrottleEvents", "WriteThrottleEvents"}
    (expression,) = [q for q in props["Metrics"] if q.get("ReturnData")]
    assert "reads" in expression["Expression"] and "writes" in expression["Expression"]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_audit_stream_iterator_age_has_an_alarm(resources: dict[str, Any]) -> None:
    (props,) = alarm_on(resources, "AWS/Lambda", "IteratorAge")
    assert dimensions(props) == {"FunctionName": {"Ref": "AuditStream"}}
    assert props["Statistic"] == "Maximum"
    # Well before the mapping gives records up (MaximumRecordAgeInSeconds).
    mapping = resources["AuditStreamEventSourceMapping"]["Properties"]
    assert 0 < props["Threshold"] < mapping["MaximumRecordAgeInSeconds"] * 1000


def test_a_ledger_mismatch_raises_an_alarm(resources: dict[str, Any]) -> None:
    (props,) = alarm_on(resources, ALARM_NAMESPACE, "LedgerMismatches")
    # The dimensions the schedules' metrics carry (observability.metrics: service only).
    assert dimensions(props) == {"service": "stockroom"}
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize("function", SCHEDULED)
def test_each_scheduled_function_sends_failures_to_a_queue(resources: dict[str, Any], function: str) -> None:
    props = resources[function]["Properties"]
    on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    (queue,) = refs(on_failure["Destination"])
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    assert 0 <= props["EventInvokeConfig"]["MaximumRetryAttempts"] <= 2
    # Lambda sends the failure record with the function's own role (reconciliation also queues the
    # webhook deliveries of the ledger.mismatch events it finds).
    sends = {queue, "WebhookQueue"} if function == "ReconcileLedger" else {queue}
    assert targets(grants(resources, function), "sqs:SendMessage") == sends
    # An event EventBridge cannot deliver lands in the same queue, which EventBridge may write to.
    (event,) = props["Events"].values()
    assert event["Type"] == "Schedule"
    assert refs(event["Properties"]["DeadLetterConfig"]["Arn"]) == {queue}
    (policy,) = [
        p for p in of_type(resources, "AWS::SQS::QueuePolicy").values() if refs(p["Properties"]["Queues"]) == {queue}
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# -- IAM ---------------------------------------------------------------------------


def test_every_function_has_its_own_role(resources: dict[str, Any]) -> None:
    roles = [next(iter(refs(resources[name]["Properties"]["Role"]))) for name in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS)
    assert set(of_type(resources, "AWS::IAM::Role")) == set(roles)


def test_no_wildcards_except_for_tracing(resources: dict[str, Any]) -> None:
    for role_name, role in of_type(resources, "AWS::IAM::Role").items():
        for statement in statements(role):
            actions = as_list(statement["Action"])
            assert all("*" not in action for action in actions), (role_name, actions)
            wildcard = any(isinstance(r, str) and r.endswith("*") for r in as_list(statement["Resource"]))
            if wildcard:
                assert all(action.startswith("xray:") for action in actions), (role_name, statement)
            services = {action.split(":")[0] for action in actions}
            if services & SCOPED_SERVICES:
                assert refs(statement["Resource"]) or all(
                    "${AWS::StackName}" in sub_text(r) for r in as_list(statement["Resource"])
                ), (role_name, statement)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_writes_only_its_own_logs_and_traces(resources: dict[str, Any], function: str) -> None:
    allowed = grants(resources, function)
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(allowed)
    (log_arn,) = allowed["logs:PutLogEvents"]
    assert allowed["logs:CreateLogStream"] == [log_arn]
    name = sub_text(resources[function]["Properties"]["FunctionName"])
    assert sub_text(log_arn).endswith(f":log-group:/aws/lambda/{name}:*")


def test_table_permissions_follow_what_each_function_does(resources: dict[str, Any]) -> None:
    api = grants(resources, "APIHandler")
    assert {"MainTable", "IdempotencyTable"} <= targets(api, "dynamodb:PutItem")
    assert "HistoryTable" not in targets(api, "dynamodb:PutItem")
    assert "HistoryTable" in targets(api, "dynamodb:Query")

    audit = grants(resources, "AuditStream")
    assert targets(audit, "dynamodb:BatchWriteItem") == {"HistoryTable"}
    # The stream images carry everything; the handler never reads or writes the main table itself.
    assert "MainTable" not in refs([on for action, on in audit.items() if action not in STREAM_ACTIONS])

    reconcile = grants(resources, "ReconcileLedger")
    # It writes only its snapshots (batches, fenced to the snapshot partitions), mismatch events and where
    # its nightly pass stands (one item, fenced to the job cursors).
    assert ITEM_WRITES & set(reconcile) == {"dynamodb:BatchWriteItem", "dynamodb:PutItem"}
    assert targets(reconcile, "dynamodb:BatchWriteItem") == {"MainTable", "EventsTable"}
    assert targets(reconcile, "dynamodb:PutItem") == {"MainTable"}
    fenced = {s.get("Sid"): s.get("Condition") for s in statements(role_of(resources, "ReconcileLedger"))}
    assert fenced["Snapshots"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*#SNAP#*"]}}
    assert fenced["ReconcileCursor"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*#JOBCURSOR"]}}
    assert targets(reconcile, "dynamodb:Query") == {"MainTable"}

    events = grants(resources, "EventsStream")
    assert targets(events, "dynamodb:BatchWriteItem") == {"EventsTable"}
    assert not (ITEM_WRITES - {"dynamodb:BatchWriteItem"}) & set(events)
    sender = grants(resources, "WebhookSender")
    assert targets(sender, "dynamodb:PutItem") == {"EventsTable"}
    assert targets(sender, "dynamodb:GetItem") == {"MainTable", "EventsTable"}

    for function in ("ImportQueue", "ExpireReservations", "ExpireLots", "ExpireHolds"):
        allowed = grants(resources, function)
        assert targets(allowed, "dynamodb:UpdateItem") >= {"MainTable"}
        assert "HistoryTable" not in refs(list(allowed.values()))

    for function in FUNCTIONS:
        for action, on in grants(resources, function).items():
            if action.startswith("dynamodb:"):
                assert refs(on) <= set(TABLES), (function, action)


def test_main_table_indexes_are_queried_not_written(resources: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        for action, on in grants(resources, function).items():
            if any(isinstance(r, dict) and "/index/" in str(r.get("Fn::Sub", "")) for r in on):
                assert action == "dynamodb:Query", (function, action)


def test_only_the_api_and_the_importer_touch_files(resources: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        s3 = {action: on for action, on in grants(resources, function).items() if action.startswith("s3:")}
        if function == "APIHandler":
            assert set(s3) == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
        elif function == "ImportQueue":
            assert set(s3) == {"s3:GetObject", "s3:ListBucket"}
            assert sorted(sub_text(r) for r in s3["s3:GetObject"]) == [
                "${FilesBucket.Arn}/dropbox/*",
                "${FilesBucket.Arn}/uploads/*",
            ]
        else:
            assert s3 == {}
        for action, on in s3.items():
            assert refs(on) == {"FilesBucket"}
            if action == "s3:ListBucket":
                assert on == [{"Fn::GetAtt": ["FilesBucket", "Arn"]}]
            else:
                assert all(sub_text(r).startswith("${FilesBucket.Arn}/") for r in on)


# Where each function GETs or HEADs keys that may be missing: the pack cache, certificate documents and
# staged GraphQL imports (API), the import file (S3Files.size in the importer).
LISTED_PREFIXES = {"APIHandler": {"packs/*", "certificates/*", "tmp/*"}, "ImportQueue": {"uploads/*", "dropbox/*"}}


def test_a_missing_file_is_a_404_where_a_function_reads_and_nothing_more_is_listed(resources: dict[str, Any]) -> None:
    # S3 answers a GET or HEAD of a missing key with 404 only to a caller allowed s3:ListBucket, 403 otherwise,
    # and checks that with the key as `s3:prefix`: listing is allowed under the prefixes read, and nowhere else.
    for function in FUNCTIONS:
        listing = [s for s in statements(role_of(resources, function)) if "s3:ListBucket" in as_list(s["Action"])]
        if function not in LISTED_PREFIXES:
            assert listing == []
            continue
        (statement,) = listing
        assert as_list(statement["Action"]) == ["s3:ListBucket"]
        assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["FilesBucket", "Arn"]}]
        assert set(statement["Condition"]) == {"StringLike"}
        assert set(statement["Condition"]["StringLike"]) == {"s3:prefix"}
        assert set(as_list(statement["Condition"]["StringLike"]["s3:prefix"])) == LISTED_PREFIXES[function]
    importer_reads = {sub_text(r) for r in grants(resources, "ImportQueue")["s3:GetObject"]}
    assert importer_reads == {"${FilesBucket.Arn}/" + prefix for prefix in LISTED_PREFIXES["ImportQueue"]}


def test_only_the_importer_consumes_the_import_queue(resources: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        allowed = grants(resources, function)
        if function == "ImportQueue":
            assert targets(allowed, "sqs:ReceiveMessage") == {"FileImportQueue", "FileImportDeadLetterQueue"}
            assert targets(allowed, "sqs:DeleteMessage") == {"FileImportQueue", "FileImportDeadLetterQueue"}
            assert targets(allowed, "sqs:SendMessage") == {"FileImportQueue"}
        elif function == "WebhookSender":
            assert targets(allowed, "sqs:ReceiveMessage") == {"WebhookQueue"}
            assert targets(allowed, "sqs:SendMessage") == {"WebhookDeadLetterQueue"}
        else:
            assert "sqs:ReceiveMessage" not in allowed


# -- configuration files -------------------------------------------------------------


def test_chalice_config_names_no_account_and_turns_off_policy_generation() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["app_name"] == "stockroom"
    assert config["autogen_policy"] is False
    assert "iam_role_arn" not in json.dumps(config)
    files = [ROOT / ".chalice" / "config.json", ROOT / "infra" / "resources.json"]
    files += sorted((ROOT / ".chalice" / "policies").glob("*.json"))
    for path in files:
        assert not re.search(r"(?<!\d)\d{12}(?!\d)", path.read_text()), f"{path.name} names an AWS account"


def test_api_gateway_errors_use_the_service_error_shape(resources: dict[str, Any]) -> None:
    # Unknown routes, wrong methods and throttling are answered by API Gateway itself.
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::GatewayResponse"
    }
    assert set(responses) >= {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE"}
    # API Gateway answers an unknown route as a missing token (or, with an Authorization header, a bad
    # signature): 403. The service uses no IAM auth, so both mean "no such route": a 404 that says so.
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE"):
        assert responses[kind]["StatusCode"] == "404"
        assert '"code": "NOT_FOUND"' in responses[kind]["ResponseTemplates"]["application/json"]
    for props in responses.values():
        body = props["ResponseTemplates"]["application/json"]
        assert '"error"' in body and '"code"' in body and '"details"' in body
        assert props["RestApiId"] == {"Ref": "RestAPI"}


def test_the_nightly_reconciliation_fires_every_quarter_hour_of_its_window(resources: dict[str, Any]) -> None:
    # A pass that runs out of one invocation's time goes on in the next (events/schedules.reconcile_ledger).
    function = resources["ReconcileLedger"]["Properties"]
    (event,) = function["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "cron(0/15 3-5 * * ? *)"
    assert function["Timeout"] == 900
