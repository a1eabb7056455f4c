"""Offline-twin extension for moto 5.2 (loaded by run.py before ``moto.server.main``).

It closes the gaps of moto that matter to the replicator (see docs/ARCHITECTURE.md, "The offline twin"):

* cross-account shared manual DB snapshots addressed by ARN (copy, restore, describe), with the
  AWS sharing and encryption rules;
* a virtual clock: RDS resources pass through ``creating`` / ``copying`` / ``modifying`` /
  ``starting`` / ``stopping`` / ``deleting`` until ``now >= ready_at``; a copy whose source
  snapshot is deleted while it is ``copying`` ends ``failed``;
* fault injection (final statuses, never-finishing phases, API errors, unusable KMS keys); an API
  error fault with ``"after": true`` lets the request take effect and then returns the error
  instead of its response (a lost response: the caller's retry meets what the first attempt made);
* automated and AWS Backup snapshots (``rds:<db>-<time>``, ``awsbackup:job-<uuid>``), made on request
  at a chosen age: they cannot be shared (ModifyDBSnapshotAttribute refuses them as AWS does) but can be
  copied to a manual snapshot with a new key;
* the manual DB snapshot quota per account and Region (``describeAccountAttributes`` reports it as
  ``ManualSnapshots`` Used/Max; createDBSnapshot and copyDBSnapshot beyond it fail with
  ``SnapshotQuotaExceeded``), 100 by default as on AWS, settable.

Everything is controlled over HTTP on the moto port under ``/_twin/...``:

    GET  /_twin/health                         {"twin": VERSION, "moto": "5.2.1", "now": N, "parent": PID}
    GET  /_twin/clock                          {"now": N}
    POST /_twin/clock      {"now": N} | {"advance": S}   -> {"now": N}   (settles due phases)
    GET  /_twin/durations                      {...}
    POST /_twin/durations  {partial}           -> full durations (unknown key / negative -> 400)
    GET  /_twin/faults                         [fault, ...]
    POST /_twin/faults     fault | [fault...]  -> full list (each fault gets an "id")
    PUT  /_twin/faults     [fault...]          -> replaces the list
    DELETE /_twin/faults                       -> []
    GET  /_twin/pending                        [{resource, account, region, id, status, finalStatus,
                                                 startedAt, readyAt, blocked}]
    GET  /_twin/quotas                         {"manualSnapshots": {"default": 100, "<account>/<region>": N}}
    POST /_twin/quotas     {"manualSnapshots": N, "account"?, "region"?}   -> the quotas
                                               (no account: the default; no region: every Region)
    POST /_twin/reset      {"now"?: N}         clears faults, pending phases, durations, clock
    POST /_twin/backups    {account, region?, dbInstanceIdentifier, type: "automated"|"awsbackup",
                            ageSeconds, status?: "available"|"creating", replace?: bool}
                                               -> {id, arn, snapshotCreateTime}: a snapshot RDS
                                               (automated backup) or AWS Backup took of the instance
                                               ageSeconds ago; replace: first remove the instance's
                                               other automated and AWS Backup snapshots

``POST /moto-api/reset`` (moto's own) also drops the pending phases (their resources are gone).

Every AWS rule enforced here that moto does not know is kept in ``FACTS`` below, with "inferred"
where the rule follows from the documentation but the exact error was not seen verbatim.
"""

from __future__ import annotations

import copy
import datetime
import fnmatch
import json
import math
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

TWIN_VERSION = "1"

# --------------------------------------------------------------------------------------------
# AWS facts the twin enforces (error code, message). Keep them here, in one place.
# --------------------------------------------------------------------------------------------
FACTS: dict[str, tuple[str, str]] = {
    # CopyDBSnapshot doc: "If you copy an encrypted DB snapshot that is shared from another AWS
    # account, then you must specify a value for KmsKeyId." Error code inferred.
    "copy-shared-encrypted-needs-key": (
        "InvalidParameterValue",
        "KmsKeyId must be specified when copying an encrypted DB snapshot shared from another account.",
    ),
    # CopyDBSnapshot doc: cross-Region copy of an encrypted snapshot needs a destination-Region key.
    "copy-cross-region-encrypted-needs-key": (
        "InvalidParameterValue",
        "KmsKeyId must be specified when copying an encrypted DB snapshot to another Region.",
    ),
    # CopyDBSnapshot doc, OptionGroupName: "Specify this option if you are copying a snapshot from one
    # AWS Region to another, and your DB instance uses a nondefault option group." Error code and
    # text inferred.
    "copy-cross-region-option-group": (
        "InvalidParameterCombination",
        "The snapshot {id} uses the option group {option_group}: specify OptionGroupName (an option "
        "group of the target Region) to copy it to another Region.",
    ),
    # AWS-FACTS.md: a shared encrypted snapshot must be copied first. Error code inferred.
    "restore-shared-encrypted": (
        "InvalidParameterValue",
        "You can't restore a DB instance directly from an encrypted DB snapshot shared from another "
        "account; copy it with a KMS key of your account first.",
    ),
    # RDS user guide: snapshots encrypted with the default key (aws/rds) cannot be shared.
    "share-default-key": (
        "InvalidParameterValue",
        "Snapshots encrypted with the default AWS KMS key (aws/rds) can't be shared. Copy the snapshot "
        "with a customer managed key and share the copy.",
    ),
    # RDS user guide: encrypted snapshots cannot be made public.
    "share-encrypted-public": (
        "InvalidParameterValue",
        "Encrypted snapshots can't be shared publicly (restore attribute value 'all').",
    ),
    "share-bad-account": (
        "InvalidParameterValue",
        "Invalid AWS account ID in ValuesToAdd: {value}.",
    ),
    # Automated snapshots cannot be shared; RDS rejects their identifier (`rds:...`) in
    # ModifyDBSnapshotAttribute with this text (seen verbatim in aws/aws-sdk issue 638).
    "share-automated": (
        "InvalidParameterValue",
        "The parameter DBSnapshotIdentifier is not a valid identifier. Identifiers must begin with a "
        "letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
        "or contain two consecutive hyphens.",
    ),
    # AWS Backup snapshots neither (seen verbatim in aws/aws-cli issue 5407).
    "share-awsbackup": (
        "InvalidParameterValue",
        "The parameter {id} is not a valid identifier.",
    ),
    # Inferred: sharing needs an available snapshot.
    "share-not-available": (
        "InvalidDBSnapshotState",
        "Snapshot {id} is not in available state.",
    ),
    "snapshot-not-available": (
        "InvalidDBSnapshotState",
        "Snapshot {id} must be in available state (current: {status}).",
    ),
    "snapshot-already-deleting": (
        "InvalidDBSnapshotState",
        "Snapshot {id} is already being deleted.",
    ),
    "instance-not-available-for-snapshot": (
        "InvalidDBInstanceState",
        "Cannot create a snapshot because the database instance {id} is not currently in the "
        "available state.",
    ),
    "instance-not-modifiable": (
        "InvalidDBInstanceState",
        "Database instance {id} is not in available state (current: {status}).",
    ),
    "instance-already-deleting": (
        "InvalidDBInstanceState",
        "Instance {id} is already being deleted.",
    ),
    # AWS-FACTS.md: no final snapshot while creating, failed, incompatible-*.
    "final-snapshot-impossible": (
        "InvalidDBInstanceState",
        "Cannot create a final snapshot of DB instance {id} in state {status}.",
    ),
    # DeleteDBInstance doc: FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot.
    "delete-needs-final-snapshot-choice": (
        "InvalidParameterCombination",
        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
    ),
    # Inferred, as for DB snapshots.
    "cluster-snapshot-not-available": (
        "InvalidDBClusterSnapshotStateFault",
        "DB cluster snapshot {id} is not in the available state (it is {status}).",
    ),
    "cluster-snapshot-already-deleting": (
        "InvalidDBClusterSnapshotStateFault",
        "DB cluster snapshot {id} is already being deleted.",
    ),
    "cluster-not-available-for-snapshot": (
        "InvalidDBClusterStateFault",
        "DB cluster {id} is not in the available state (it is {status}); cannot create a snapshot.",
    ),
    # RestoreDBClusterFromSnapshot: DBClusterAlreadyExistsFault (RDS API reference).
    "cluster-already-exists": ("DBClusterAlreadyExistsFault", "DB cluster {id} already exists."),
    "cluster-already-deleting": ("InvalidDBClusterStateFault", "DB cluster {id} is already being deleted."),
    "cluster-not-available-for-instance": (
        "InvalidDBClusterStateFault",
        "DB cluster {id} is {status}; cannot add a DB instance to it.",
    ),
    # AWS-FACTS.md "Quotas": 100 manual DB instance snapshots per Region (adjustable).
    "snapshot-quota-exceeded": (
        "SnapshotQuotaExceeded",
        "Cannot create more than {max} manual snapshots",
    ),
    "kms-unusable": (
        "KMSKeyNotAccessibleFault",
        "The specified KMS key [{key}] does not exist, is not enabled or you do not have "
        "permissions to access it.",
    ),
}

DEFAULT_DURATIONS: dict[str, float] = {
    "snapshotCreate": 300,
    "snapshotCopy": 300,
    "snapshotDelete": 0,
    "create": 0,  # createDBInstance (0: fixtures are instant, as plain moto)
    "restore": 600,
    "modify": 30,
    "start": 120,
    "stop": 0,
    "delete": 120,
}

DEFAULT_MANUAL_SNAPSHOT_QUOTA = 100

FAILED_INSTANCE_STATUSES = {
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "restore-error",
    "storage-full",
}

FAULT_KINDS = {"snapshot-status", "instance-status", "never-finishes", "error", "kms-unusable"}
ACCOUNT_RE = re.compile(r"^\d{12}$")


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------
@dataclass
class Pending:
    obj: Any
    resource: str  # "snapshot" | "instance"
    backend: Any
    status: str  # transitional status shown meanwhile
    final: str | None  # final status; None = the resource disappears
    started: float
    ready_at: float


@dataclass
class TwinState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    fault_lock: threading.Lock = field(default_factory=threading.Lock)
    now: float = field(default_factory=lambda: float(math.floor(time.time())))
    durations: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))
    faults: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[int, Pending] = field(default_factory=dict)
    next_fault_id: int = 1
    # Manual DB snapshot quota: the default, and per "<account>/<region>" overrides.
    snapshot_quota_default: int = DEFAULT_MANUAL_SNAPSHOT_QUOTA
    snapshot_quotas: dict[str, int] = field(default_factory=dict)
    # Manual DB cluster snapshot quota (ManualClusterSnapshots): the default, and per account/Region.
    cluster_snapshot_quota_default: int = DEFAULT_MANUAL_SNAPSHOT_QUOTA
    cluster_snapshot_quotas: dict[str, int] = field(default_factory=dict)

    def reset(self, now: float | None = None) -> None:
        with self.lock:
            self.now = float(math.floor(time.time())) if now is None else float(now)
            self.durations = dict(DEFAULT_DURATIONS)
            with self.fault_lock:
                self.faults = []
            self.pending = {}
            self.snapshot_quota_default = DEFAULT_MANUAL_SNAPSHOT_QUOTA
            self.snapshot_quotas = {}
            self.cluster_snapshot_quota_default = DEFAULT_MANUAL_SNAPSHOT_QUOTA
            self.cluster_snapshot_quotas = {}


STATE = TwinState()


def virtual_utcnow() -> datetime.datetime:
    return datetime.datetime.fromtimestamp(STATE.now, tz=datetime.timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------
def _glob(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    if value is None:
        return False
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _account_ok(fault: dict[str, Any], account: str | None) -> bool:
    return fault.get("account") in (None, account)


def _faults(kind: str) -> list[dict[str, Any]]:
    with STATE.fault_lock:
        return [f for f in STATE.faults if f["kind"] == kind]


def final_status_fault(kind: str, resource_id: str, account: str) -> str | None:
    for f in _faults(kind):
        if _account_ok(f, account) and _glob(f["match"], resource_id):
            return str(f["status"])
    return None


def never_finishes(resource: str, resource_id: str, account: str) -> bool:
    for f in _faults("never-finishes"):
        if f.get("resource") not in (None, resource):
            continue
        if _account_ok(f, account) and _glob(f["match"], resource_id):
            return True
    return False


def check_kms_usable(account: str, *key_arns: str | None) -> None:
    for key in key_arns:
        if not key:
            continue
        for f in _faults("kms-unusable"):
            if _account_ok(f, account) and f["keyArn"] == key:
                raise rds_error("kms-unusable", key=key)


def take_error_fault(action: str, service: str | None, account: str, values: list[str]) -> dict[str, Any] | None:
    with STATE.fault_lock:
        for f in STATE.faults:
            if f["kind"] != "error" or f["api"] != action or f["remaining"] <= 0:
                continue
            if f.get("service") not in (None, service):
                continue
            if not _account_ok(f, account):
                continue
            if f.get("match") is not None and not any(_glob(f["match"], v) for v in values):
                continue
            f["remaining"] -= 1
            return dict(f)
    return None


def validate_fault(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("a fault must be a JSON object")
    f = dict(raw)
    kind = f.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
    account = f.get("account")
    if account is not None and not (isinstance(account, str) and ACCOUNT_RE.match(account)):
        raise ValueError("account must be a 12-digit string")

    def need_str(key: str) -> None:
        if not isinstance(f.get(key), str) or not f[key]:
            raise ValueError(f"fault {kind}: {key} (string) is required")

    if kind in ("snapshot-status", "instance-status"):
        need_str("match")
        need_str("status")
    elif kind == "never-finishes":
        need_str("match")
        if f.get("resource") not in (None, "snapshot", "instance"):
            raise ValueError("never-finishes: resource must be 'snapshot' or 'instance'")
    elif kind == "error":
        need_str("api")
        need_str("code")
        count = f.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("error: count must be a positive integer")
        f["count"] = count
        f["remaining"] = count
        status = f.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("error: status must be an HTTP error status (400..599)")
        if f.get("match") is not None and not isinstance(f["match"], str):
            raise ValueError("error: match must be a string")
        if f.get("after") is not None and not isinstance(f["after"], bool):
            raise ValueError("error: after must be a boolean")
    elif kind == "kms-unusable":
        need_str("keyArn")
    return f


# --------------------------------------------------------------------------------------------
# Phases on the virtual clock
# --------------------------------------------------------------------------------------------
def _resource_id(p: Pending) -> str:
    if p.resource == "snapshot":
        return p.obj.db_snapshot_identifier
    if p.resource == "cluster-snapshot":
        return p.obj.db_cluster_snapshot_identifier
    if p.resource == "cluster":
        return p.obj.db_cluster_identifier
    return p.obj.db_instance_identifier


def _store(p: Pending) -> dict[str, Any]:
    return {
        "snapshot": p.backend.database_snapshots,
        "cluster-snapshot": p.backend.cluster_snapshots,
        "cluster": p.backend.clusters,
    }.get(p.resource, p.backend.databases)


def _blocked(p: Pending) -> bool:
    return never_finishes(p.resource, _resource_id(p), p.backend.account_id)


def _finish(p: Pending) -> None:
    if p.final is None:
        store = _store(p)
        key = _resource_id(p)
        if store.get(key) is p.obj:
            del store[key]
        p.obj.status = "deleted"
    else:
        p.obj.status = p.final


def settle() -> None:
    with STATE.lock:
        for key, p in list(STATE.pending.items()):
            if STATE.now >= p.ready_at and not _blocked(p):
                del STATE.pending[key]
                _finish(p)


def begin(obj: Any, resource: str, backend: Any, status: str, final: str | None, duration_key: str) -> None:
    """Put obj into `status` until now + durations[duration_key], then into `final`."""
    with STATE.lock:
        duration = float(STATE.durations.get(duration_key, 0))
        p = Pending(obj, resource, backend, status, final, STATE.now, STATE.now + duration)
        STATE.pending.pop(id(obj), None)
        if duration <= 0 and not _blocked(p):
            _finish(p)
            return
        obj.status = status
        STATE.pending[id(obj)] = p


def fail_copies_of(source: Any) -> None:
    """RDS user guide (copying snapshots): deleting a source snapshot while a copy of it is still
    copying can make that copy fail. The twin takes the worst case: every such copy, in any account
    or Region, ends ``failed``."""
    with STATE.lock:
        for p in STATE.pending.values():
            if (
                p.resource in ("snapshot", "cluster-snapshot")
                and p.status == "copying"
                and getattr(p.obj, "source_db_snapshot_identifier", None) == source.arn
            ):
                p.final = "failed"


def pending_of(obj: Any) -> Pending | None:
    p = STATE.pending.get(id(obj))
    return p if p is not None and p.obj is obj else None


def snapshot_percent_progress(snapshot: Any) -> int:
    p = pending_of(snapshot)
    if p is None:
        return 100 if snapshot.status == "available" else 0
    if p.final is None:
        return 100
    span = p.ready_at - p.started
    if span <= 0:
        return 0
    pct = int(100 * (STATE.now - p.started) / span)
    return max(0, min(99, pct))


# --------------------------------------------------------------------------------------------
# Manual snapshot quota
# --------------------------------------------------------------------------------------------
def manual_snapshot_quota(account: str, region: str) -> int:
    quotas = STATE.snapshot_quotas
    return quotas.get(f"{account}/{region}", quotas.get(f"{account}/*", STATE.snapshot_quota_default))


def manual_snapshots_used(backend: Any) -> int:
    """Manual DB snapshots of the account and Region, including those still being created, copied
    or deleted (inferred: a snapshot counts until it is gone)."""
    return sum(
        1
        for snap in backend.database_snapshots.values()
        if snap.snapshot_type == "manual" and snap.status != "deleted"
    )


def check_snapshot_quota(backend: Any) -> None:
    limit = manual_snapshot_quota(backend.account_id, backend.region_name)
    if manual_snapshots_used(backend) >= limit:
        raise rds_error("snapshot-quota-exceeded", max=limit)


def manual_cluster_snapshot_quota(account: str, region: str) -> int:
    quotas = STATE.cluster_snapshot_quotas
    return quotas.get(f"{account}/{region}", quotas.get(f"{account}/*", STATE.cluster_snapshot_quota_default))


def manual_cluster_snapshots_used(backend: Any) -> int:
    return sum(
        1
        for snap in backend.cluster_snapshots.values()
        if snap.snapshot_type == "manual" and snap.status != "deleted"
    )


def check_cluster_snapshot_quota(backend: Any) -> None:
    limit = manual_cluster_snapshot_quota(backend.account_id, backend.region_name)
    if manual_cluster_snapshots_used(backend) >= limit:
        raise rds_error("snapshot-quota-exceeded", max=limit)


def set_snapshot_quota(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError("expected an object {manualSnapshots | manualClusterSnapshots, account?, region?}")
    unknown = set(data) - {"manualSnapshots", "manualClusterSnapshots", "account", "region"}
    if unknown:
        raise ValueError(
            f"unknown field(s) {sorted(unknown)}; known: account, manualClusterSnapshots, manualSnapshots, region"
        )
    cluster = "manualClusterSnapshots" in data
    value = data.get("manualClusterSnapshots" if cluster else "manualSnapshots")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{'manualClusterSnapshots' if cluster else 'manualSnapshots'} must be a whole number >= 0")
    account, region = data.get("account"), data.get("region")
    if account is not None and not (isinstance(account, str) and ACCOUNT_RE.match(account)):
        raise ValueError("account must be a 12-digit string")
    if region is not None and (account is None or not isinstance(region, str) or not region):
        raise ValueError("region needs an account, and must be a non-empty string")
    with STATE.lock:
        if cluster and account is None:
            STATE.cluster_snapshot_quota_default = value
        elif cluster:
            STATE.cluster_snapshot_quotas[f"{account}/{region or '*'}"] = value
        elif account is None:
            STATE.snapshot_quota_default = value
        else:
            STATE.snapshot_quotas[f"{account}/{region or '*'}"] = value


def quotas_view() -> dict[str, Any]:
    return {
        "manualSnapshots": {"default": STATE.snapshot_quota_default, **STATE.snapshot_quotas},
        "manualClusterSnapshots": {"default": STATE.cluster_snapshot_quota_default, **STATE.cluster_snapshot_quotas},
    }


# --------------------------------------------------------------------------------------------
# Automated and AWS Backup snapshots
# --------------------------------------------------------------------------------------------
BACKUP_TYPES = ("automated", "awsbackup")


def add_backup_snapshot(data: Any) -> dict[str, Any]:
    """A snapshot RDS's automated backups or AWS Backup took of an instance `ageSeconds` ago (on the
    virtual clock). Identifiers as AWS forms them: ``rds:<instance>-<yyyy-mm-dd-hh-mm>`` and
    ``awsbackup:job-<uuid>`` (AWS Backup developer guide, recovery point IDs)."""
    import uuid

    import moto.rds.models as m

    if not isinstance(data, dict):
        raise ValueError("expected an object {account, region?, dbInstanceIdentifier, type, ageSeconds}")
    known = {"account", "region", "dbInstanceIdentifier", "type", "ageSeconds", "status", "replace"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
    account, region = data.get("account"), data.get("region") or "eu-west-1"
    if not (isinstance(account, str) and ACCOUNT_RE.match(account)):
        raise ValueError("account must be a 12-digit string")
    kind = data.get("type")
    if kind not in BACKUP_TYPES:
        raise ValueError(f"type must be one of {list(BACKUP_TYPES)}")
    age = data.get("ageSeconds", 0)
    if not isinstance(age, (int, float)) or isinstance(age, bool) or age < 0:
        raise ValueError("ageSeconds must be a number >= 0")
    status = data.get("status", "available")
    if status not in ("available", "creating"):
        raise ValueError("status must be 'available' or 'creating'")
    db_id = str(data.get("dbInstanceIdentifier") or "").lower()
    backend = m.rds_backends[account][region]
    with STATE.lock:
        if db_id not in backend.databases:
            raise ValueError(f"no DB instance {db_id!r} in {account}/{region}")
        if data.get("replace"):
            for key, snap in list(backend.database_snapshots.items()):
                if snap.snapshot_type in BACKUP_TYPES and snap.db_instance_identifier == db_id:
                    del backend.database_snapshots[key]
        taken = datetime.datetime.fromtimestamp(STATE.now - float(age), tz=datetime.timezone.utc).replace(
            tzinfo=None
        )
        if kind == "automated":
            snapshot_id = f"rds:{db_id}-{taken.strftime('%Y-%m-%d-%H-%M')}"
        else:
            snapshot_id = f"awsbackup:job-{uuid.uuid4()}"
        if snapshot_id in backend.database_snapshots:
            raise ValueError(f"{snapshot_id} exists already")
        snap = m.DBSnapshot(backend, backend.databases[db_id], snapshot_id, kind)
        snap.created = taken
        snap.original_snapshot_create_time = taken
        snap.status = status
        backend.database_snapshots[snapshot_id] = snap
        return {"id": snapshot_id, "arn": snap.arn, "snapshotCreateTime": taken.isoformat() + "Z"}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
def rds_error(fact: str, **fmt: Any) -> Exception:
    from moto.rds.exceptions import RDSClientError

    code, message = FACTS[fact]
    return RDSClientError(code, message.format(**fmt))


class TwinInjectedError(Exception):
    """Serialized by moto's protocol serializer (module is not moto.*: no service lookup)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------
# KMS helpers
# --------------------------------------------------------------------------------------------
DEFAULT_RDS_ALIAS = "alias/aws/rds"


def default_rds_key_arn(account: str, region: str) -> str:
    from moto.kms.models import kms_backends

    kms = kms_backends[account][region]
    key_id = kms.get_key_id_from_alias(DEFAULT_RDS_ALIAS)
    key = kms.keys[key_id]
    key.key_manager = "AWS"
    key.description = "Default key that protects my RDS database volumes when no other key is defined"
    return key.arn


def is_default_rds_key(key_arn: str | None) -> bool:
    if not key_arn or not key_arn.startswith("arn:"):
        return False
    from moto.kms.models import kms_backends

    parts = key_arn.split(":")
    if len(parts) < 6:
        return False
    try:
        key = kms_backends[parts[4]][parts[3]].describe_key(key_arn)
    except Exception:
        return False
    return DEFAULT_RDS_ALIAS in key.aliases


# --------------------------------------------------------------------------------------------
# Installation (monkey patches)
# --------------------------------------------------------------------------------------------
# Tag a fixture may put on a new security group to choose its id (twin only). Fixtures use it so
# that the id, a package-time parameter of the destination service, is the same in every test and
# the packaged variant is reused instead of packaged again.
FIXED_GROUP_ID_TAG = "twin:group-id"


def install_fixed_security_group_ids() -> None:
    import moto.ec2.models.security_groups as sg

    orig_random = sg.random_security_group_id
    orig_create = sg.SecurityGroupBackend.create_security_group
    requested: list[str] = []

    def random_security_group_id() -> str:
        return requested.pop() if requested else orig_random()

    def create_security_group(self: Any, name: str, description: str, vpc_id: Any = None, tags: Any = None, **kw: Any) -> Any:
        wanted = (tags or {}).get(FIXED_GROUP_ID_TAG)
        # a second group asking for a taken id gets a random one, as without the tag
        if wanted and not any(wanted in groups for groups in self.groups.values()):
            requested.append(wanted)
        try:
            return orig_create(self, name, description, vpc_id=vpc_id, tags=tags, **kw)
        finally:
            requested.clear()

    sg.random_security_group_id = random_security_group_id
    sg.SecurityGroupBackend.create_security_group = create_security_group


# Tag the twin's deployer puts on a stack's new KMS key to choose its id (twin only, removed before
# the key is stored): a stack deployed again in a new twin gets the same key ARN, so a package-time
# parameter that names it (the destination's sourceKmsKeyArn) reuses the packaged variant.
FIXED_KEY_ID_TAG = "twin:key-id"


def install_fixed_key_ids() -> None:
    import moto.kms.models as kms

    orig_generate = kms.generate_key_id
    orig_create = kms.KmsBackend.create_key
    requested: list[str] = []

    def generate_key_id(multi_region: bool = False) -> str:
        return requested.pop() if requested else orig_generate(multi_region)

    def create_key(self: Any, policy: Any, key_usage: Any, key_spec: Any, description: Any, tags: Any, *a: Any, **kw: Any) -> Any:
        wanted = next((t["TagValue"] for t in tags or [] if t.get("TagKey") == FIXED_KEY_ID_TAG), None)
        rest = [t for t in tags or [] if t.get("TagKey") != FIXED_KEY_ID_TAG]
        # a key asking for a taken id gets a random one, as without the tag
        if wanted and wanted not in self.keys:
            requested.append(wanted)
        try:
            return orig_create(self, policy, key_usage, key_spec, description, rest, *a, **kw)
        finally:
            requested.clear()

    kms.generate_key_id = generate_key_id
    kms.KmsBackend.create_key = create_key


def check_share(
    snapshot: Any, snapshot_id: str, account_id: str, attribute_name: str, values_to_add: list[str] | None
) -> None:
    """What RDS refuses when a DB or DB cluster snapshot is shared (`restore` attribute): a value that
    is neither an account nor `all`; and, with another account, a snapshot not `available`, one
    encrypted with the default RDS key, or an encrypted one made public."""
    if attribute_name != "restore" or not values_to_add:
        return
    for value in values_to_add:
        if value != "all" and not ACCOUNT_RE.match(str(value)):
            raise rds_error("share-bad-account", value=value)
    others = [v for v in values_to_add if v != account_id]
    if not others:
        return
    if snapshot.status != "available":
        raise rds_error("share-not-available", id=snapshot_id)
    if snapshot.encrypted and is_default_rds_key(snapshot.kms_key_id):
        raise rds_error("share-default-key")
    if snapshot.encrypted and "all" in others:
        raise rds_error("share-encrypted-public")


_installed = False


def install_lean_server() -> None:
    """What moto_server does per request or per account that the twin never needs.

    - moto lists its own package directory (a listdir and ~160 stats) on every request to map a
      host to a backend; the list cannot change while the server runs, so it is read once.
    - werkzeug logs every request at INFO to stdout; the twin keeps only moto's warnings and errors
      (the Node side shows them when the server exits early).
    - each EC2 backend (one per account and Region) loads ~1,200 public AMIs with a volume and a
      snapshot each; the twin uses EC2 only for subnets and security groups.
    """
    import logging

    import moto.backends as backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    install_lazy_kms_key_pairs()


class _LazyPrivateKey:
    """moto gives every KMS key, symmetric ones too, an RSA or EC key pair for Sign/Verify at creation
    (~50 ms of CPU each); the twin's keys are symmetric and never sign. The pair is made on first use."""

    def __init__(self, make: Any, key_spec: str) -> None:
        self._make = make
        self._key_spec = key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = self._make(self._key_spec)
        return getattr(self._key, name)


def install_lazy_kms_key_pairs() -> None:
    import moto.kms.models as kms_models

    make = kms_models.generate_private_key
    kms_models.generate_private_key = lambda key_spec: _LazyPrivateKey(make, key_spec)


def install() -> None:  # noqa: C901 - one place for all patches
    global _installed
    if _installed:
        return
    _installed = True
    install_lean_server()

    import moto.rds.models as m
    import moto.rds.responses as r
    from moto.core.responses import ActionResult, BaseResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    m.utcnow = virtual_utcnow
    install_fixed_security_group_ids()
    install_fixed_key_ids()

    RDSBackend = m.RDSBackend
    DBSnapshot = m.DBSnapshot
    orig = {
        name: getattr(RDSBackend, name)
        for name in (
            "get_snapshot",
            "create_db_instance",
            "create_db_snapshot",
            "delete_db_snapshot",
            "modify_db_instance",
            "start_db_instance",
            "stop_db_instance",
            "delete_db_instance",
            "modify_db_snapshot_attribute",
        )
    }

    DBSnapshot.percent_progress = property(snapshot_percent_progress)

    # A snapshot reports the option group of its instance (DescribeDBSnapshots OptionGroupName), or
    # the one a copy was given.
    def get_option_group_name(snap: Any) -> str | None:
        return snap.__dict__.get("_twin_option_group") or getattr(snap.database, "option_group_name", None)

    def set_option_group_name(snap: Any, value: str | None) -> None:
        snap.__dict__["_twin_option_group"] = value

    DBSnapshot.option_group_name = property(get_option_group_name, set_option_group_name)
    # The manual snapshot quota is the twin's (check_snapshot_quota); moto's own counts every kind.
    RDSBackend.SNAPSHOT_QUOTA = property(lambda self: 1_000_000)

    def snapshot_not_available(snap: Any) -> Exception:
        return rds_error("snapshot-not-available", id=snap.db_snapshot_identifier, status=snap.status)

    # -- a. cross-account shared snapshots --------------------------------------------------
    def get_snapshot(self: Any, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
        if resource_type is DBSnapshot and identifier.startswith("arn:"):
            parts = identifier.split(":")
            if len(parts) >= 7 and parts[2] == "rds" and parts[5] == "snapshot":
                region, account, name = parts[3], parts[4], ":".join(parts[6:])
                if account and account != self.account_id:
                    try:
                        owner = m.rds_backends[account][region]
                    except Exception:
                        raise not_found_exception(identifier) from None
                    snap = owner.database_snapshots.get(name)
                    if (
                        snap is None
                        or snap.snapshot_type != "manual"
                        or snap.status == "deleted"
                        or not ({self.account_id, "all"} & set(snap.attributes.get("restore", [])))
                    ):
                        raise not_found_exception(identifier)
                    return snap
                if account == self.account_id:
                    snaps = m.rds_backends[account][region].database_snapshots
                    if name not in snaps:
                        raise not_found_exception(identifier)
                    return snaps[name]
        return orig["get_snapshot"](self, identifier, resource_type, not_found_exception)

    def copy_db_snapshot(
        self: Any,
        source_db_snapshot_identifier: str,
        target_db_snapshot_identifier: str,
        kms_key_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
        copy_tags: bool | None = False,
        option_group_name: str | None = None,
        **_: Any,
    ) -> Any:
        src_id = source_db_snapshot_identifier
        if src_id.startswith("arn:"):
            self.extract_snapshot_name_from_arn(src_id)
        if target_db_snapshot_identifier in self.database_snapshots:
            raise m.DBSnapshotAlreadyExistsError(target_db_snapshot_identifier)
        check_snapshot_quota(self)
        source = self.get_db_snapshot(src_id)
        if source.status != "available":
            raise snapshot_not_available(source)
        foreign = source.backend.account_id != self.account_id
        other_region = source.backend.region_name != self.region_name
        source_key = source.kms_key_id if source.encrypted else None
        check_kms_usable(self.account_id, source_key)
        if source.encrypted and not kms_key_id:
            if foreign:
                raise rds_error("copy-shared-encrypted-needs-key")
            if other_region:
                raise rds_error("copy-cross-region-encrypted-needs-key")
        source_group = source.option_group_name
        if other_region and source_group and not source_group.startswith("default:") and not option_group_name:
            raise rds_error(
                "copy-cross-region-option-group", id=source.db_snapshot_identifier, option_group=source_group
            )
        if option_group_name and option_group_name not in self.option_groups:
            raise m.OptionGroupNotFoundFaultError(option_group_name)
        target_key = source_key
        if kms_key_id:
            target_key = self._validate_kms_key(kms_key_id)
            check_kms_usable(self.account_id, target_key)
        if copy_tags and not tags:
            tags = source.tags or []
        target = DBSnapshot(
            self,
            source.database,
            target_db_snapshot_identifier,
            tags=tags,
            kms_key_id=target_key,
            original_created_at=source.original_snapshot_create_time,
        )
        target.kms_key_id = target_key
        target.storage_encrypted = target_key is not None
        target.encrypted = target_key is not None
        target.source_db_snapshot_identifier = source.arn
        target.option_group_name = option_group_name or source_group
        if other_region:
            target.source_region = source.backend.region_name
        self.database_snapshots[target_db_snapshot_identifier] = target
        final = final_status_fault("snapshot-status", target.db_snapshot_identifier, self.account_id)
        begin(target, "snapshot", self, "copying", final or "available", "snapshotCopy")
        return target

    def restore_db_instance_from_db_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
        if from_snapshot_id.startswith("arn:"):
            self.extract_snapshot_name_from_arn(from_snapshot_id)
        snapshot = self.get_db_snapshot(from_snapshot_id)
        foreign = snapshot.backend.account_id != self.account_id
        if snapshot.status != "available":
            raise snapshot_not_available(snapshot)
        if foreign and snapshot.encrypted:
            raise rds_error("restore-shared-encrypted")
        key = snapshot.kms_key_id if snapshot.encrypted else None
        check_kms_usable(self.account_id, key)
        if overrides["db_instance_identifier"] in self.databases:
            raise m.DBInstanceAlreadyExists()
        original = snapshot.database
        origin_elsewhere = original.account_id != self.account_id or original.region != self.region_name
        skip = {
            "backend",
            "db_parameter_group_name",
            "vpc_security_group_ids",
            "max_allocated_storage",
            "status",
            "created",
            "instance_create_time",
            "deletion_protection",
            "master_user_secret",
            "manage_master_user_password",
            "replicas",
            "is_replica",
            "source_db_instance_identifier",
            "db_subnet_group",
            "log_file_manager",
            "associated_roles",
            "domain_memberships",
        }
        if origin_elsewhere:
            skip |= {"db_subnet_group_name", "option_group_name"}
        props: dict[str, Any] = {}
        for k, v in original.__dict__.items():
            k = k[1:] if k.startswith("_") else k
            if k not in skip:
                props[k] = copy.copy(v)
        if not getattr(original, "option_group_supplied", False):
            props.pop("option_group_name", None)
        props["kms_key_id"] = key
        props["storage_encrypted"] = bool(snapshot.encrypted)
        if "allocated_storage" in overrides and overrides["allocated_storage"]:
            if overrides["allocated_storage"] < snapshot.allocated_storage:
                raise m.InvalidParameterValue(
                    "The allocated storage size can't be less than the source snapshot or backup size."
                )
        # An explicit false (PubliclyAccessible, MultiAZ, DeletionProtection) is a setting too:
        # the restored instance does not inherit it from the snapshot's instance.
        for k, v in overrides.items():
            if v is not None:
                props[k] = v
        instance = orig["create_db_instance"](self, props)
        final = final_status_fault("instance-status", instance.db_instance_identifier, self.account_id)
        begin(instance, "instance", self, "creating", final or "available", "restore")
        return instance

    # -- encryption defaults and phases --------------------------------------------------------
    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        kms = db_kwargs.get("kms_key_id")
        if db_kwargs.get("db_cluster_identifier") is None:
            if kms:
                db_kwargs["kms_key_id"] = self._validate_kms_key(kms)
                db_kwargs["storage_encrypted"] = True
            elif db_kwargs.get("storage_encrypted"):
                db_kwargs["kms_key_id"] = default_rds_key_arn(self.account_id, self.region_name)
        instance = orig["create_db_instance"](self, db_kwargs)
        if db_kwargs.get("db_cluster_identifier") is None:
            begin(instance, "instance", self, "creating", "available", "create")
        return instance

    def create_db_snapshot(
        self: Any,
        db_instance_identifier: str,
        db_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
        original_created_at: Any = None,
        kms_key_id: str | None = None,
        **_: Any,
    ) -> Any:
        if snapshot_type == "manual":
            db = self.databases.get(db_instance_identifier)
            if db is not None and db.status not in ("available", "stopped"):
                raise rds_error("instance-not-available-for-snapshot", id=db_instance_identifier)
            if db is not None and db_snapshot_identifier not in self.database_snapshots:
                check_snapshot_quota(self)
        snap = orig["create_db_snapshot"](
            self,
            db_instance_identifier,
            db_snapshot_identifier,
            snapshot_type,
            tags,
            original_created_at,
            kms_key_id,
        )
        if snapshot_type == "manual":
            final = final_status_fault("snapshot-status", snap.db_snapshot_identifier, self.account_id)
            begin(snap, "snapshot", self, "creating", final or "available", "snapshotCreate")
        return snap

    def delete_db_snapshot(self: Any, db_snapshot_identifier: str) -> Any:
        snap = self.database_snapshots.get(db_snapshot_identifier)
        if snap is None:
            raise m.DBSnapshotNotFoundFault(db_snapshot_identifier)
        if snap.status == "deleting":
            raise rds_error("snapshot-already-deleting", id=snap.db_snapshot_identifier)
        fail_copies_of(snap)
        begin(snap, "snapshot", self, "deleting", None, "snapshotDelete")
        return snap

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        db = self.databases.get(db_instance_identifier)
        prev = db.status if db is not None else None
        if db is not None and prev not in ("available", "stopped", "storage-optimization", "incompatible-parameters"):
            raise rds_error("instance-not-modifiable", id=db_instance_identifier, status=prev)
        instance = orig["modify_db_instance"](self, db_instance_identifier, db_kwargs)
        begin(instance, "instance", self, "modifying", "stopped" if prev == "stopped" else "available", "modify")
        return instance

    def start_db_instance(self: Any, db_instance_identifier: str) -> Any:
        instance = orig["start_db_instance"](self, db_instance_identifier)
        begin(instance, "instance", self, "starting", "available", "start")
        return instance

    def stop_db_instance(self: Any, db_instance_identifier: str, db_snapshot_identifier: str | None = None) -> Any:
        instance = orig["stop_db_instance"](self, db_instance_identifier, db_snapshot_identifier)
        begin(instance, "instance", self, "stopping", "stopped", "stop")
        return instance

    def delete_db_instance(
        self: Any,
        db_instance_identifier: str,
        final_db_snapshot_identifier: str | None = None,
        skip_final_snapshot: bool | None = False,
        delete_automated_backups: bool | None = True,
        **_: Any,
    ) -> Any:
        db = self.databases.get(db_instance_identifier)
        if db is not None:
            if db.status == "deleting":
                raise rds_error("instance-already-deleting", id=db_instance_identifier)
            if not skip_final_snapshot and not final_db_snapshot_identifier:
                raise rds_error("delete-needs-final-snapshot-choice")
            if (
                final_db_snapshot_identifier
                and not skip_final_snapshot
                and (db.status == "creating" or db.status in FAILED_INSTANCE_STATUSES)
            ):
                raise rds_error("final-snapshot-impossible", id=db_instance_identifier, status=db.status)
        instance = orig["delete_db_instance"](
            self,
            db_instance_identifier,
            final_db_snapshot_identifier,
            skip_final_snapshot,
            True if delete_automated_backups is None else delete_automated_backups,
        )
        # moto removed it; keep it listed as `deleting` until its time.
        self.databases[instance.db_instance_identifier] = instance
        begin(instance, "instance", self, "deleting", None, "delete")
        if instance.status == "deleted":
            instance.status = "deleting"  # the response still says deleting, as AWS
        return instance

    def modify_db_snapshot_attribute(
        self: Any,
        db_snapshot_identifier: str,
        attribute_name: str,
        values_to_add: list[str] | None = None,
        values_to_remove: list[str] | None = None,
    ) -> Any:
        backup = self.database_snapshots.get(str(db_snapshot_identifier).lower())
        if backup is not None and backup.snapshot_type == "automated":
            raise rds_error("share-automated")
        if backup is not None and backup.snapshot_type == "awsbackup":
            raise rds_error("share-awsbackup", id=backup.db_snapshot_identifier)
        snapshot = self.describe_db_snapshots(
            db_instance_identifier=None, db_snapshot_identifier=db_snapshot_identifier
        )[0]
        check_share(snapshot, snapshot.db_snapshot_identifier, self.account_id, attribute_name, values_to_add)
        return orig["modify_db_snapshot_attribute"](
            self, db_snapshot_identifier, attribute_name, values_to_add, values_to_remove
        )

    RDSBackend.get_snapshot = get_snapshot
    RDSBackend.copy_db_snapshot = copy_db_snapshot
    RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot
    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.create_db_snapshot = create_db_snapshot
    RDSBackend.delete_db_snapshot = delete_db_snapshot
    RDSBackend.modify_db_instance = modify_db_instance
    RDSBackend.start_db_instance = start_db_instance
    RDSBackend.stop_db_instance = stop_db_instance
    RDSBackend.delete_db_instance = delete_db_instance
    RDSBackend.modify_db_snapshot_attribute = modify_db_snapshot_attribute

    # -- describeDBSnapshots: foreign ARNs and IncludeShared ------------------------------------
    orig_describe_db_snapshots = r.RDSResponse.describe_db_snapshots

    def describe_db_snapshots(self: Any) -> Any:
        snapshot_id = self.params.get("DBSnapshotIdentifier")
        if snapshot_id and snapshot_id.startswith("arn:"):
            return ActionResult({"DBSnapshots": [self.backend.get_db_snapshot(snapshot_id)]})
        result = orig_describe_db_snapshots(self)
        include_shared = str(self.params.get("IncludeShared", "")).lower() == "true"
        if include_shared and self.params.get("SnapshotType") is None and not snapshot_id:
            own = list(result.result["DBSnapshots"]) if isinstance(result.result, dict) else []
            shared = [s for s in self.backend.get_shared_db_snapshots() if s.status != "deleted"]
            return ActionResult({"DBSnapshots": own + shared})
        return result

    r.RDSResponse.describe_db_snapshots = describe_db_snapshots

    # -- describeAccountAttributes: the quotas the twin models ----------------------------------
    def describe_account_attributes(self: Any) -> Any:
        backend = self.backend
        return ActionResult(
            {
                "AccountQuotas": [
                    {
                        "AccountQuotaName": "ManualSnapshots",
                        "Used": manual_snapshots_used(backend),
                        "Max": manual_snapshot_quota(backend.account_id, backend.region_name),
                    },
                    # The twin's, enforced on creating and copying cluster snapshots (quota name inferred).
                    {
                        "AccountQuotaName": "ManualClusterSnapshots",
                        "Used": manual_cluster_snapshots_used(backend),
                        "Max": manual_cluster_snapshot_quota(backend.account_id, backend.region_name),
                    },
                ]
            }
        )

    r.RDSResponse.describe_account_attributes = describe_account_attributes

    # -- every request: error faults, settle phases, serialize RDS ------------------------------
    orig_call_action = BaseResponse.call_action

    def request_values(self: Any) -> list[str]:
        values: list[str] = []
        try:
            for v in self.querystring.values():
                values.extend(x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str))
        except Exception:
            pass
        try:
            body = json.loads(self.body) if self.body else None
            if isinstance(body, dict):
                values.extend(v for v in body.values() if isinstance(v, str))
        except Exception:
            pass
        return values

    def call_action(self: Any) -> Any:
        try:
            action = self._get_action()
        except Exception:
            action = None
        # The twin's own look-ups (IAM context: tags, keys, policies) never consume injected faults.
        internal = str(getattr(self, "headers", {}).get("x-twin-internal", "")) == "1"
        if action and not internal:
            fault = take_error_fault(action, self.service_name, self.current_account, request_values(self))
            if fault is not None:
                if fault.get("after"):
                    # The request takes effect; only its response is lost (replaced by the error).
                    if self.service_name == "rds":
                        with STATE.lock:
                            settle()
                            orig_call_action(self)
                    else:
                        orig_call_action(self)
                err = TwinInjectedError(fault["code"], fault.get("message") or fault["code"])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "code does not match an error shape"
                    status, headers, body = self.serialized(ActionResult(err))
                if fault.get("status"):
                    status = fault["status"]
                headers.pop("status", None)
                headers, body = self._enrich_response(headers, body)
                return status, headers, body
        if self.service_name == "rds":
            with STATE.lock:
                settle()
                return orig_call_action(self)
        return orig_call_action(self)

    BaseResponse.call_action = call_action

    # -- control API ------------------------------------------------------------------------
    orig_app_call = DomainDispatcherApplication.__call__

    def app_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "") or ""
        if path == "/_twin" or path.startswith("/_twin/"):
            return control_app(environ, start_response)
        result = orig_app_call(self, environ, start_response)
        if path.startswith("/moto-api/reset") and environ.get("REQUEST_METHOD") == "POST":
            with STATE.lock:
                STATE.pending = {}
        return result

    DomainDispatcherApplication.__call__ = app_call

    install_clusters(m, r, ActionResult)


# --------------------------------------------------------------------------------------------
# Aurora DB clusters: the same cross-account sharing, phases and faults as for instances
# --------------------------------------------------------------------------------------------
def install_clusters(m: Any, r: Any, ActionResult: Any) -> None:  # noqa: C901 - one place for the cluster patches
    RDSBackend = m.RDSBackend
    DBClusterSnapshot = m.DBClusterSnapshot
    orig = {
        name: getattr(RDSBackend, name)
        for name in (
            "get_snapshot",
            "create_db_cluster",
            "create_db_cluster_snapshot",
            "copy_db_cluster_snapshot",
            "delete_db_cluster_snapshot",
            "delete_db_cluster",
            "modify_db_cluster_snapshot_attribute",
            "create_db_instance",
        )
    }

    def not_available(snap: Any) -> Exception:
        return rds_error("cluster-snapshot-not-available", id=snap.db_cluster_snapshot_identifier, status=snap.status)

    # moto's DBCluster reports `creating` once, then `available`; the twin's phases decide instead.
    def _get_status(self: Any) -> str:
        return self._status

    m.DBCluster.status = property(_get_status, m.DBCluster.status.fset)

    def get_snapshot(self: Any, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
        if resource_type is DBClusterSnapshot and identifier.startswith("arn:"):
            parts = identifier.split(":")
            if len(parts) >= 7 and parts[2] == "rds" and parts[5] == "cluster-snapshot":
                region, account, name = parts[3], parts[4], ":".join(parts[6:])
                try:
                    owner = m.rds_backends[account][region]
                except Exception:
                    raise not_found_exception(identifier) from None
                snap = owner.cluster_snapshots.get(name)
                if snap is None or snap.status == "deleted":
                    raise not_found_exception(identifier)
                if account != self.account_id and (
                    snap.snapshot_type != "manual"
                    or not ({self.account_id, "all"} & set(snap.attributes.get("restore", [])))
                ):
                    raise not_found_exception(identifier)
                return snap
        return orig["get_snapshot"](self, identifier, resource_type, not_found_exception)

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        # As for instances: encrypted without a key means the account's aws/rds key.
        if kwargs.get("kms_key_id"):
            kwargs["kms_key_id"] = self._validate_kms_key(kwargs["kms_key_id"])
            kwargs["storage_encrypted"] = True
        elif str(kwargs.get("storage_encrypted", "")).lower() == "true":
            kwargs["kms_key_id"] = default_rds_key_arn(self.account_id, self.region_name)
        cluster = orig["create_db_cluster"](self, kwargs)
        cluster.status = "available"
        return cluster

    def create_db_cluster_snapshot(
        self: Any,
        db_cluster_identifier: str,
        db_cluster_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
    ) -> Any:
        cluster = self.clusters.get(db_cluster_identifier)
        if snapshot_type == "manual" and cluster is not None and cluster.status != "available":
            raise rds_error("cluster-not-available-for-snapshot", id=db_cluster_identifier, status=cluster.status)
        if snapshot_type == "manual" and cluster is not None and db_cluster_snapshot_identifier not in self.cluster_snapshots:
            check_cluster_snapshot_quota(self)
        snap = orig["create_db_cluster_snapshot"](
            self, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
        )
        if snapshot_type == "manual":
            final = final_status_fault("snapshot-status", snap.db_cluster_snapshot_identifier, self.account_id)
            begin(snap, "cluster-snapshot", self, "creating", final or "available", "snapshotCreate")
        return snap

    def copy_db_cluster_snapshot(
        self: Any,
        source_db_cluster_snapshot_identifier: str,
        target_db_cluster_snapshot_identifier: str,
        kms_key_id: str | None = None,
        copy_tags: bool = False,
        tags: list[dict[str, str]] | None = None,
        **_: Any,
    ) -> Any:
        if target_db_cluster_snapshot_identifier in self.cluster_snapshots:
            raise m.DBClusterSnapshotAlreadyExistsError(target_db_cluster_snapshot_identifier)
        check_cluster_snapshot_quota(self)
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        if source.status != "available":
            raise not_available(source)
        foreign = source.backend.account_id != self.account_id
        source_key = source.kms_key_id if source.encrypted else None
        check_kms_usable(self.account_id, source_key)
        if source.encrypted and not kms_key_id and foreign:
            raise rds_error("copy-shared-encrypted-needs-key")
        target_key = source_key
        if kms_key_id:
            target_key = self._validate_kms_key(kms_key_id)
            check_kms_usable(self.account_id, target_key)
        if copy_tags and not tags:
            tags = source.tags or []
        target = DBClusterSnapshot(
            self, source.cluster, target_db_cluster_snapshot_identifier, tags=tags or [], kms_key_id=target_key
        )
        target.source_db_snapshot_identifier = source.arn
        self.cluster_snapshots[target_db_cluster_snapshot_identifier] = target
        final = final_status_fault("snapshot-status", target.db_cluster_snapshot_identifier, self.account_id)
        begin(target, "cluster-snapshot", self, "copying", final or "available", "snapshotCopy")
        return target

    def delete_db_cluster_snapshot(self: Any, db_snapshot_identifier: str) -> Any:
        snap = self.cluster_snapshots.get(db_snapshot_identifier)
        if snap is None:
            raise m.DBClusterSnapshotNotFoundError(db_snapshot_identifier)
        if snap.status == "deleting":
            raise rds_error("cluster-snapshot-already-deleting", id=db_snapshot_identifier)
        fail_copies_of(snap)
        begin(snap, "cluster-snapshot", self, "deleting", None, "snapshotDelete")
        return snap

    def modify_db_cluster_snapshot_attribute(
        self: Any,
        db_cluster_snapshot_identifier: str,
        attribute_name: str,
        values_to_add: list[str] | None = None,
        values_to_remove: list[str] | None = None,
    ) -> Any:
        snapshot = self.get_db_cluster_snapshot(db_cluster_snapshot_identifier)
        check_share(snapshot, db_cluster_snapshot_identifier, self.account_id, attribute_name, values_to_add)
        return orig["modify_db_cluster_snapshot_attribute"](
            self, db_cluster_snapshot_identifier, attribute_name, values_to_add, values_to_remove
        )

    def restore_db_cluster_from_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
        snapshot = self.get_db_cluster_snapshot(from_snapshot_id)
        foreign = snapshot.backend.account_id != self.account_id
        if snapshot.status != "available":
            raise not_available(snapshot)
        if foreign and snapshot.encrypted:
            raise rds_error("restore-shared-encrypted")
        key = snapshot.kms_key_id if snapshot.encrypted else None
        check_kms_usable(self.account_id, key)
        if overrides["db_cluster_identifier"] in self.clusters:
            raise rds_error("cluster-already-exists", id=overrides["db_cluster_identifier"])
        props = copy.copy(snapshot.cluster.get_cfg())
        # What belongs to the source account is not carried over (its network, groups, tags).
        for k in ("vpc_security_group_ids", "db_subnet_group_name", "db_cluster_parameter_group_name", "tags"):
            props.pop(k, None)
        props["kms_key_id"] = key
        props["storage_encrypted"] = bool(snapshot.encrypted)
        props["deletion_protection"] = False
        for k, v in overrides.items():
            if v is not None:
                props[k] = v
        cluster = orig["create_db_cluster"](self, props)
        final = final_status_fault("instance-status", cluster.db_cluster_identifier, self.account_id)
        begin(cluster, "cluster", self, "creating", final or "available", "restore")
        return cluster

    def delete_db_cluster(self: Any, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
        cluster = self.clusters.get(cluster_identifier)
        if cluster is not None and cluster.status == "deleting":
            raise rds_error("cluster-already-deleting", id=cluster_identifier)
        gone = orig["delete_db_cluster"](self, cluster_identifier, snapshot_name)
        self.clusters[cluster_identifier] = gone
        begin(gone, "cluster", self, "deleting", None, "delete")
        if gone.status == "deleted":
            gone.status = "deleting"
        return gone

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        cluster_id = db_kwargs.get("db_cluster_identifier")
        if cluster_id is not None:
            cluster = self.clusters.get(cluster_id)
            if cluster is None:
                raise m.DBClusterNotFoundError(cluster_id)
            if cluster.status == "deleting":
                raise rds_error("cluster-not-available-for-instance", id=cluster_id, status=cluster.status)
            db_kwargs.setdefault("engine", cluster.engine)
        instance = orig["create_db_instance"](self, db_kwargs)
        if cluster_id is not None:
            final = final_status_fault("instance-status", instance.db_instance_identifier, self.account_id)
            begin(instance, "instance", self, "creating", final or "available", "restore")
        return instance

    RDSBackend.get_snapshot = get_snapshot
    RDSBackend.create_db_cluster = create_db_cluster
    RDSBackend.create_db_cluster_snapshot = create_db_cluster_snapshot
    RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot
    RDSBackend.delete_db_cluster_snapshot = delete_db_cluster_snapshot
    RDSBackend.modify_db_cluster_snapshot_attribute = modify_db_cluster_snapshot_attribute
    RDSBackend.restore_db_cluster_from_snapshot = restore_db_cluster_from_snapshot
    RDSBackend.delete_db_cluster = delete_db_cluster
    RDSBackend.create_db_instance = create_db_instance

    # -- describeDBClusterSnapshots: foreign ARNs (the destination's provenance check) ----------
    orig_describe = r.RDSResponse.describe_db_cluster_snapshots

    def describe_db_cluster_snapshots(self: Any) -> Any:
        snapshot_id = self.params.get("DBClusterSnapshotIdentifier")
        if snapshot_id and snapshot_id.startswith("arn:"):
            return ActionResult({"DBClusterSnapshots": [self.backend.get_db_cluster_snapshot(snapshot_id)]})
        return orig_describe(self)

    r.RDSResponse.describe_db_cluster_snapshots = describe_db_cluster_snapshots


# --------------------------------------------------------------------------------------------
# Control API (plain WSGI)
# --------------------------------------------------------------------------------------------
def _pending_view() -> list[dict[str, Any]]:
    out = []
    for p in STATE.pending.values():
        out.append(
            {
                "resource": p.resource,
                "account": p.backend.account_id,
                "region": p.backend.region_name,
                "id": _resource_id(p),
                "status": p.status,
                "finalStatus": p.final,
                "startedAt": p.started,
                "readyAt": p.ready_at,
                "blocked": _blocked(p),
            }
        )
    out.sort(key=lambda x: (x["readyAt"], x["id"]))
    return out


def _public_fault(f: dict[str, Any]) -> dict[str, Any]:
    return dict(f)


def control_app(environ: dict[str, Any], start_response: Any) -> Any:
    from werkzeug.wrappers import Request, Response

    request = Request(environ)
    method = request.method
    path = request.path.rstrip("/")

    def reply(payload: Any, status: int = 200) -> Any:
        resp = Response(json.dumps(payload), status=status, mimetype="application/json")
        return resp(environ, start_response)

    def body() -> Any:
        raw = request.get_data(as_text=True)
        return json.loads(raw) if raw.strip() else None

    try:
        if path in ("/_twin", "/_twin/health"):
            import moto

            return reply(
                {"twin": TWIN_VERSION, "moto": moto.__version__, "now": STATE.now, "parent": os.getppid()}
            )
        if path == "/_twin/clock":
            if method == "GET":
                return reply({"now": STATE.now})
            data = body() or {}
            with STATE.lock:
                if "now" in data:
                    STATE.now = float(data["now"])
                elif "advance" in data:
                    if float(data["advance"]) < 0:
                        return reply({"error": "advance must be >= 0"}, 400)
                    STATE.now += float(data["advance"])
                else:
                    return reply({"error": "expected {now} or {advance}"}, 400)
                settle()
                return reply({"now": STATE.now})
        if path == "/_twin/durations":
            if method == "GET":
                return reply(STATE.durations)
            data = body() or {}
            if not isinstance(data, dict):
                return reply({"error": "expected an object"}, 400)
            for k, v in data.items():
                if k not in DEFAULT_DURATIONS:
                    return reply({"error": f"unknown duration {k!r}; known: {sorted(DEFAULT_DURATIONS)}"}, 400)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    return reply({"error": f"duration {k} must be a number >= 0"}, 400)
            with STATE.lock:
                STATE.durations.update({k: float(v) for k, v in data.items()})
                return reply(STATE.durations)
        if path == "/_twin/faults":
            if method == "GET":
                with STATE.fault_lock:
                    return reply([_public_fault(f) for f in STATE.faults])
            if method == "DELETE":
                with STATE.fault_lock:
                    STATE.faults = []
                return reply([])
            data = body()
            items = data if isinstance(data, list) else [data]
            try:
                faults = [validate_fault(x) for x in items]
            except ValueError as e:
                return reply({"error": str(e)}, 400)
            with STATE.fault_lock:
                if method == "PUT":
                    STATE.faults = []
                for f in faults:
                    f["id"] = STATE.next_fault_id
                    STATE.next_fault_id += 1
                    STATE.faults.append(f)
                listing = [_public_fault(f) for f in STATE.faults]
            with STATE.lock:
                settle()
            return reply(listing)
        if path == "/_twin/quotas":
            if method == "GET":
                return reply(quotas_view())
            try:
                set_snapshot_quota(body())
            except ValueError as e:
                return reply({"error": str(e)}, 400)
            return reply(quotas_view())
        if path == "/_twin/backups":
            if method != "POST":
                return reply({"error": "POST a backup snapshot"}, 405)
            try:
                return reply(add_backup_snapshot(body()))
            except ValueError as e:
                return reply({"error": str(e)}, 400)
        if path == "/_twin/pending":
            with STATE.lock:
                settle()
                return reply(_pending_view())
        if path == "/_twin/reset":
            if method != "POST":
                return reply({"error": "POST to reset"}, 405)
            data = body() or {}
            STATE.reset(data.get("now"))
            return reply({"now": STATE.now, "durations": STATE.durations})
        return reply({"error": f"no such twin endpoint {path}"}, 404)
    except json.JSONDecodeError as e:
        return reply({"error": f"invalid JSON: {e}"}, 400)
