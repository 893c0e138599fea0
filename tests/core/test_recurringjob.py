"""core.recurringjob: task registry, manifest model, validation rules and server defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.core.recurringjob import (
    DEFAULT_CONCURRENCY,
    PARAMETERS,
    TASKS,
    ClusterFacts,
    FieldError,
    ManifestError,
    RecurringJobSpec,
    auto_correct_name,
    mutate_like_server,
    retain_bounds,
    validate,
    warnings_for,
)
from lhdesk.core.versions import LonghornVersion

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "longhorn-examples"
ALL_TASKS = (
    "snapshot",
    "snapshot-force-create",
    "snapshot-cleanup",
    "snapshot-delete",
    "backup",
    "backup-force-create",
    "filesystem-trim",
    "system-backup",
)
VOLUME_TASKS = tuple(t for t in ALL_TASKS if t != "system-backup")


def example(name: str) -> dict[str, Any]:
    (path,) = EXAMPLES.glob(f"{name}-*.yaml")
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def job(**changes: Any) -> RecurringJobSpec:
    base: dict[str, Any] = {
        "name": "nightly",
        "task": "backup",
        "cron": "0 2 * * *",
        "retain": 7,
        "concurrency": 2,
        "groups": ("default",),
        "labels": (("team", "storage"),),
        "parameters": (),
    }
    base.update(changes)
    return RecurringJobSpec(**base)


def fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


def messages(spec: RecurringJobSpec, facts: ClusterFacts | None = None) -> str:
    return " | ".join(str(e) for e in validate(spec, facts))


# --------------------------------------------------------------------------- registries


def test_the_eight_tasks_in_order() -> None:
    assert tuple(TASKS) == ALL_TASKS
    for name, info in TASKS.items():
        assert info.name == name
        assert info.title
        assert info.description.endswith(".")
        assert set(info.parameters) <= set(PARAMETERS)


def test_task_shapes() -> None:
    assert TASKS["snapshot-cleanup"].retain_fixed == 0
    assert TASKS["filesystem-trim"].retain_fixed == 0
    assert TASKS["snapshot-delete"].retain_min == 0
    assert TASKS["snapshot-delete"].retain_fixed is None
    for name in ("snapshot", "snapshot-force-create", "backup", "backup-force-create", "system-backup"):
        assert TASKS[name].retain_min == 1
    assert TASKS["snapshot"].force_variant == "snapshot-force-create"
    assert TASKS["backup"].force_variant == "backup-force-create"
    assert TASKS["backup-force-create"].force_of == "backup"
    sb = TASKS["system-backup"]
    assert not sb.uses_groups
    assert not sb.uses_labels
    assert not sb.uses_concurrency
    assert sb.since == LonghornVersion(1, 9, 0)
    assert sb.parameters == ("volume-backup-policy",)
    assert TASKS["backup"].parameters == ("full-backup-interval",)
    assert all(TASKS[t].uses_groups and TASKS[t].uses_labels for t in VOLUME_TASKS)


def test_parameter_registry() -> None:
    fbi = PARAMETERS["full-backup-interval"]
    assert fbi.tasks == ("backup", "backup-force-create")
    assert fbi.kind == "int"
    assert fbi.minimum == 0
    assert fbi.default == "0"
    vbp = PARAMETERS["volume-backup-policy"]
    assert vbp.tasks == ("system-backup",)
    assert vbp.default == "if-not-present"
    assert [c.value for c in vbp.choices] == ["if-not-present", "always", "disabled"]
    assert all(c.explanation for c in vbp.choices)
    for info in PARAMETERS.values():
        for task in info.tasks:
            assert info.key in TASKS[task].parameters


def test_retain_bounds() -> None:
    assert retain_bounds("snapshot-cleanup") == (0, 0)
    assert retain_bounds("filesystem-trim") == (0, 0)
    assert retain_bounds("snapshot-delete") == (0, 100)
    assert retain_bounds("backup") == (1, 100)
    assert retain_bounds("system-backup", ClusterFacts(max_retention=250)) == (1, 250)


# --------------------------------------------------------------------------- manifests


def test_reads_the_docs_snapshot_example() -> None:
    spec = RecurringJobSpec.from_manifest(example("01"))
    assert spec == RecurringJobSpec(
        name="snapshot-1",
        task="snapshot",
        cron="* * * * *",
        retain=1,
        concurrency=2,
        groups=("default", "group1"),
        labels=(("label/1", "a"), ("label/2", "b")),
        parameters=(),
    )


def test_reads_the_system_backup_examples() -> None:
    docs = RecurringJobSpec.from_manifest(example("02"))
    assert docs.concurrency == 0  # absent: Go's zero value, the mutator makes it 10
    assert docs.parameters_dict == {"volume-backup-policy": "if-not-present"}
    stored = RecurringJobSpec.from_manifest(example("04"))
    assert stored.name == "daily-system-backup"
    assert stored.concurrency == DEFAULT_CONCURRENCY


def test_from_manifest_is_tolerant_of_missing_fields() -> None:
    assert RecurringJobSpec.from_manifest({}) == RecurringJobSpec(name="", task="", cron="")
    spec = RecurringJobSpec.from_manifest({"spec": {"name": "from-spec", "task": "snapshot"}})
    assert spec.name == "from-spec"
    assert RecurringJobSpec.from_manifest({"metadata": {"name": "m"}, "spec": {"name": "s"}}).name == "m"
    nulls = {"metadata": None, "spec": {"groups": None, "labels": None, "parameters": None, "retain": None}}
    assert RecurringJobSpec.from_manifest(nulls) == RecurringJobSpec(name="", task="", cron="")


def test_from_manifest_refuses_wrong_types() -> None:
    bad = {
        "metadata": {"name": 5},
        "spec": {
            "task": ["backup"],
            "cron": "0 2 * * *",
            "retain": "7",
            "concurrency": True,
            "groups": "default",
            "labels": {"a": 1},
            "parameters": {"full-backup-interval": 5},
        },
    }
    with pytest.raises(ManifestError) as caught:
        RecurringJobSpec.from_manifest(bad)
    by_field = {e.field: e.message for e in caught.value.errors}
    assert set(by_field) == {
        "metadata.name",
        "spec.task",
        "spec.retain",
        "spec.concurrency",
        "spec.groups",
        "spec.labels.a",
        "spec.parameters.full-backup-interval",
    }
    assert "quote it" in by_field["spec.parameters.full-backup-interval"]
    assert "must be an integer" in by_field["spec.retain"]
    with pytest.raises(ManifestError, match=r"spec: must be a mapping"):
        RecurringJobSpec.from_manifest({"spec": ["x"]})
    with pytest.raises(ManifestError, match=r"spec.groups\[1\]: must be a string"):
        RecurringJobSpec.from_manifest({"spec": {"groups": ["a", 2]}})


def test_to_manifest_round_trips() -> None:
    spec = job(parameters=(("full-backup-interval", "5"),))
    manifest = spec.to_manifest()
    assert manifest == {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": "nightly", "namespace": "longhorn-system"},
        "spec": {
            "name": "nightly",
            "task": "backup",
            "cron": "0 2 * * *",
            "retain": 7,
            "concurrency": 2,
            "groups": ["default"],
            "labels": {"team": "storage"},
            "parameters": {"full-backup-interval": "5"},
        },
    }
    assert RecurringJobSpec.from_manifest(manifest) == spec
    assert job().to_manifest(namespace="lh")["metadata"]["namespace"] == "lh"


def test_the_stored_system_backup_example_is_what_admission_makes_of_the_docs_one() -> None:
    admitted = mutate_like_server(RecurringJobSpec.from_manifest(example("02"))).to_manifest()
    assert admitted["spec"] == {
        "name": "demo",
        "task": "system-backup",
        "cron": "* * * * *",
        "retain": 1,
        "concurrency": 10,
        "groups": [],
        "labels": {},
        "parameters": {"volume-backup-policy": "if-not-present"},
    }


# --------------------------------------------------------------------------- server defaults


@pytest.mark.parametrize(
    ("task", "sent", "stored"),
    [
        ("snapshot-cleanup", 5, 0),
        ("snapshot-cleanup", -1, 0),
        ("filesystem-trim", 3, 0),
        ("snapshot-delete", -4, 0),
        ("snapshot-delete", 0, 0),
        ("snapshot-delete", 3, 3),
        ("snapshot", 0, 1),
        ("snapshot-force-create", -2, 1),
        ("backup", 0, 1),
        ("backup-force-create", 0, 1),
        ("system-backup", 0, 1),
        ("system-backup", 9, 9),
        ("no-such-task", 0, 1),  # the mutator's default branch
    ],
)
def test_mutator_retain(task: str, sent: int, stored: int) -> None:
    assert mutate_like_server(job(task=task, retain=sent)).retain == stored


def test_mutator_concurrency() -> None:
    assert mutate_like_server(job(concurrency=0)).concurrency == 10
    assert mutate_like_server(job(concurrency=-1)).concurrency == -1  # the server lets it through
    assert mutate_like_server(job(concurrency=3)).concurrency == 3
    unchanged = job()
    assert mutate_like_server(unchanged) is unchanged


def test_auto_correct_name() -> None:
    assert auto_correct_name("Nightly") == "nightly"
    assert auto_correct_name("a" * 40) == "a" * 40
    long = "Backup-" + "x" * 40
    corrected = auto_correct_name(long)
    assert len(corrected) <= 40
    assert corrected.startswith("backup-xxx")
    assert corrected[-9] == "-"
    assert corrected != auto_correct_name(long + "y")
    # a "-" left at the cut is trimmed before the hash suffix
    assert "--" not in auto_correct_name("a" * 30 + "-" * 20)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("name", ["01", "02", "03", "04"])
def test_every_shared_example_is_valid_as_admitted(name: str) -> None:
    spec = RecurringJobSpec.from_manifest(example(name))
    assert validate(mutate_like_server(spec), ClusterFacts(LonghornVersion(1, 12, 1))) == []


def test_examples_as_written_show_what_admission_fixes() -> None:
    assert validate(RecurringJobSpec.from_manifest(example("01"))) == []
    assert validate(RecurringJobSpec.from_manifest(example("04"))) == []
    assert fields(validate(RecurringJobSpec.from_manifest(example("02")))) == []  # concurrency unused
    assert fields(validate(RecurringJobSpec.from_manifest(example("03")))) == ["spec.retain"]


def test_a_good_job_of_every_task_is_valid() -> None:
    for task in ALL_TASKS:
        info = TASKS[task]
        spec = job(
            task=task,
            retain=info.retain_fixed if info.retain_fixed is not None else 3,
            groups=("default",) if info.uses_groups else (),
            labels=(("team", "storage"),) if info.uses_labels else (),
        )
        assert validate(spec) == [], task


@pytest.mark.parametrize("name", ["ab", "a" * 40, "nightly-backup", "job.v2", "0day", "a1"])
def test_valid_names(name: str) -> None:
    assert validate(job(name=name)) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("", "required"),
        ("a", "at least 2"),
        ("a" * 41, "at most 40"),
        ("Nightly", "lowercase"),
        ("night_ly", "'_'"),
        ("-nightly", "starting and ending"),
        ("nightly-", "starting and ending"),
        ("a..b", "lowercase letters"),
        ("a.-b", "lowercase letters"),
        ("night ly", "lowercase letters"),
    ],
)
def test_invalid_names(name: str, text: str) -> None:
    errors = validate(job(name=name))
    assert fields(errors) == ["metadata.name"]
    assert text in errors[0].message


def test_task_rules() -> None:
    assert fields(validate(job(task=""))) == ["spec.task"]
    errors = validate(job(task="backups", parameters=()))
    assert fields(errors) == ["spec.task"]
    assert "recurring job task backups is not valid" in errors[0].message


@pytest.mark.parametrize(
    ("version", "ok"),
    [(None, True), ("v1.8.2", False), ("v1.9.0-rc1", True), ("v1.9.0", True), ("v1.12.1", True)],
)
def test_system_backup_needs_longhorn_1_9(version: str | None, ok: bool) -> None:
    facts = ClusterFacts(LonghornVersion.parse(version) if version else None)
    spec = job(task="system-backup", retain=3, groups=(), labels=())
    errors = validate(spec, facts)
    assert (errors == []) is ok
    if not ok:
        assert fields(errors) == ["spec.task"]
        assert "needs Longhorn v1.9.0 or later; this cluster runs v1.8.2" in errors[0].message
    assert validate(job(), facts) == []  # other tasks do not care


@pytest.mark.parametrize(
    ("cron_expr", "text"),
    [
        ("", "required"),
        ("0 2 * * 7", "End of range (7) above maximum (6)"),
        ("0 0 0 * * *", "Expected exactly 5 fields, found 6"),
        ("TZ=UTC 0 2 * * *", "TZ= and CRON_TZ="),
        ("0 0 L * *", "L, W and #"),
        ("0 0 30 2 *", "never runs"),
        ("@every 0s", "becomes 1s"),
        ("@every 1.5s", "becomes 1s"),
    ],
)
def test_cron_rules(cron_expr: str, text: str) -> None:
    errors = validate(job(cron=cron_expr))
    assert fields(errors) == ["spec.cron"]
    assert text in errors[0].message


@pytest.mark.parametrize("cron_expr", ["@daily", "@every 1h30m", "*/30 * * * *", "0 3 ? * sun"])
def test_valid_crons(cron_expr: str) -> None:
    assert validate(job(cron=cron_expr)) == []


@pytest.mark.parametrize(
    ("task", "retain", "ok"),
    [
        ("backup", 0, False),
        ("backup", 1, True),
        ("backup", 100, True),
        ("backup", 101, False),
        ("snapshot", -1, False),
        ("system-backup", 0, False),
        ("system-backup", 1, True),
        ("snapshot-delete", -1, False),
        ("snapshot-delete", 0, True),
        ("snapshot-delete", 100, True),
        ("snapshot-delete", 101, False),
        ("snapshot-cleanup", 0, True),
        ("snapshot-cleanup", 1, False),
        ("filesystem-trim", 0, True),
        ("filesystem-trim", 101, False),
    ],
)
def test_retain_bounds_per_task(task: str, retain: int, ok: bool) -> None:
    spec = job(task=task, retain=retain)
    if task == "system-backup":
        spec = job(task=task, retain=retain, groups=(), labels=())
    errors = validate(spec)
    assert (errors == []) is ok, errors
    if not ok:
        assert fields(errors) == ["spec.retain"]


def test_retain_maximum_comes_from_the_cluster_setting() -> None:
    errors = validate(job(retain=101))
    assert errors[0].message.startswith("retain value should be less than or equal to 100")
    assert "recurring-job-max-retention" in errors[0].message
    assert validate(job(retain=250), ClusterFacts(max_retention=250)) == []
    assert fields(validate(job(retain=251), ClusterFacts(max_retention=250))) == ["spec.retain"]


def test_concurrency_rules() -> None:
    assert fields(validate(job(concurrency=0))) == ["spec.concurrency"]
    assert fields(validate(job(concurrency=-1))) == ["spec.concurrency"]
    assert validate(job(concurrency=1)) == []
    assert validate(job(task="system-backup", retain=1, groups=(), labels=(), concurrency=0)) == []


@pytest.mark.parametrize("group", ["default", "group1", "Team_A", "a.b-c", "ab", "x" * 63])
def test_valid_groups(group: str) -> None:
    assert validate(job(groups=(group,))) == []


@pytest.mark.parametrize(
    ("group", "text"),
    [
        ("", "invalid group name"),
        ("a", "invalid group name"),
        ("-a", "invalid group name"),
        ("_a", "invalid group name"),
        ("ab-", "ending with a letter or digit"),
        ("a b", "invalid group name"),
        ("x" * 64, "longer than 63"),
        ("a/b", "invalid group name"),
    ],
)
def test_invalid_groups(group: str, text: str) -> None:
    errors = validate(job(groups=("default", group)))
    assert fields(errors) == ["spec.groups[1]"]
    assert text in errors[0].message


def test_duplicate_groups() -> None:
    errors = validate(job(groups=("a1", "b1", "a1")))
    assert fields(errors) == ["spec.groups[2]"]
    assert "duplicate" in errors[0].message


def test_system_backup_takes_no_groups_or_labels() -> None:
    errors = validate(job(task="system-backup", retain=1))
    assert fields(errors) == ["spec.groups", "spec.labels"]


@pytest.mark.parametrize(
    "key",
    ["team", "label/1", "example.com/team", "a.b.c/X_y-z.1", "k" * 63, ("p" * 253) + "/k", "Team"],
)
def test_valid_label_keys(key: str) -> None:
    assert validate(job(labels=((key, "v"),))) == []


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("", "name part must not be empty"),
        ("a/b/c", "at most one '/'"),
        ("/team", "prefix before '/' must not be empty"),
        ("example.com/", "name part must not be empty"),
        ("Example.com/team", "lowercase DNS subdomain"),
        (("p" * 254) + "/k", "at most 253"),
        ("k" * 64, "at most 63"),
        ("-team", "starting and ending"),
        ("team-", "starting and ending"),
        ("te am", "letters, digits"),
        ("KubernetesStatus", "reserved"),
        ("ranchervm-base-image", "reserved"),
        ("RecurringJob", "RecurringJob is reserved"),
    ],
)
def test_invalid_label_keys(key: str, text: str) -> None:
    errors = validate(job(labels=((key, "v"),)))
    assert fields(errors) == [f"spec.labels.{key}"]
    assert text in errors[0].message


def test_label_values_and_duplicates() -> None:
    errors = validate(job(labels=(("team", ""),)))
    assert [str(e) for e in errors] == ["spec.labels.team: value for label with key team cannot be empty"]
    assert validate(job(labels=(("team", "any value at all: no charset check"),))) == []
    assert "duplicate" in messages(job(labels=(("a", "1"), ("a", "2"))))


@pytest.mark.parametrize(
    ("task", "params", "bad_fields"),
    [
        ("backup", (("full-backup-interval", "0"),), []),
        ("backup", (("full-backup-interval", "5"),), []),
        ("backup-force-create", (("full-backup-interval", "1"),), []),
        ("backup", (("full-backup-interval", "-1"),), ["spec.parameters.full-backup-interval"]),
        ("backup", (("full-backup-interval", "+5"),), ["spec.parameters.full-backup-interval"]),
        ("backup", (("full-backup-interval", "five"),), ["spec.parameters.full-backup-interval"]),
        ("backup", (("full-backup-interval", ""),), ["spec.parameters.full-backup-interval"]),
        ("backup", (("volume-backup-policy", "always"),), ["spec.parameters.volume-backup-policy"]),
        ("backup", (("retention", "3"),), ["spec.parameters.retention"]),
        ("snapshot", (("full-backup-interval", "5"),), ["spec.parameters.full-backup-interval"]),
        ("filesystem-trim", (("x", "y"),), ["spec.parameters.x"]),
        ("system-backup", (), []),
        ("system-backup", (("volume-backup-policy", "if-not-present"),), []),
        ("system-backup", (("volume-backup-policy", "always"),), []),
        ("system-backup", (("volume-backup-policy", "disabled"),), []),
        ("system-backup", (("volume-backup-policy", "foo"),), ["spec.parameters.volume-backup-policy"]),
        ("system-backup", (("volume-backup-policy", "Always"),), ["spec.parameters.volume-backup-policy"]),
        ("system-backup", (("full-backup-interval", "2"),), ["spec.parameters.full-backup-interval"]),
    ],
)
def test_parameters_by_task(task: str, params: tuple[tuple[str, str], ...], bad_fields: list[str]) -> None:
    uses_volumes = task != "system-backup"
    spec = job(
        task=task,
        retain=0 if TASKS[task].retain_fixed == 0 else 3,
        groups=("default",) if uses_volumes else (),
        labels=(("team", "storage"),) if uses_volumes else (),
        parameters=params,
    )
    assert fields(validate(spec)) == bad_fields


def test_parameter_messages() -> None:
    text = messages(job(parameters=(("retention", "3"),)))
    assert "retention:3 is not a valid parameter for task backup (valid: full-backup-interval)" in text
    text = messages(
        job(
            task="system-backup",
            retain=1,
            groups=(),
            labels=(),
            parameters=(("volume-backup-policy", "foo"),),
        )
    )
    assert "supported values: if-not-present, always, disabled" in text
    assert "duplicate" in messages(
        job(parameters=(("full-backup-interval", "1"), ("full-backup-interval", "2")))
    )


def test_several_problems_are_all_reported() -> None:
    spec = RecurringJobSpec(name="X", task="backup", cron="61 * * * *", retain=0, concurrency=0)
    assert fields(validate(spec)) == ["metadata.name", "spec.cron", "spec.retain", "spec.concurrency"]


def test_warnings_for() -> None:
    assert [w.field for w in warnings_for(job(task="snapshot-delete", retain=0))] == ["spec.retain"]
    assert warnings_for(job(task="snapshot-delete", retain=1)) == []
    assert warnings_for(job(task="system-backup", groups=(), labels=())) == []
    assert "default backup target" in TASKS["system-backup"].caveat
    assert [w.field for w in warnings_for(job(parameters=(("full-backup-interval", "1"),)))] == [
        "spec.parameters.full-backup-interval"
    ]
    assert warnings_for(job()) == []


# --------------------------------------------------------------------------- properties

_pairs = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=4).map(tuple)
_specs = st.builds(
    RecurringJobSpec,
    name=st.text(max_size=45),
    task=st.one_of(st.sampled_from(ALL_TASKS), st.text(max_size=10)),
    cron=st.one_of(st.sampled_from(["0 2 * * *", "@every 1h", "@daily"]), st.text(max_size=30)),
    retain=st.integers(-5, 300),
    concurrency=st.integers(-5, 20),
    groups=st.lists(st.text(max_size=70), max_size=4).map(tuple),
    labels=_pairs,
    parameters=_pairs,
)


@settings(max_examples=200, deadline=None)
@given(_specs, st.integers(1, 250))
def test_validate_never_raises(spec: RecurringJobSpec, max_retention: int) -> None:
    errors = validate(spec, ClusterFacts(LonghornVersion(1, 8, 0), max_retention))
    assert all(isinstance(e, FieldError) and e.field and e.message for e in errors)
    mutated = mutate_like_server(spec)
    assert validate(mutated) is not None
    assert mutate_like_server(mutated) == mutated


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "metadata": st.one_of(_json, st.fixed_dictionaries({"name": _json})),
            "spec": st.one_of(
                _json,
                st.dictionaries(
                    st.sampled_from(
                        ["name", "task", "cron", "retain", "concurrency", "groups", "labels", "parameters"]
                    ),
                    _json,
                ),
            ),
        },
    )
)
def test_from_manifest_raises_only_manifest_error(obj: dict[str, Any]) -> None:
    try:
        spec = RecurringJobSpec.from_manifest(obj)
    except ManifestError as error:
        problems = error.errors
        spec = None
    if spec is None:
        assert problems
        return
    assert isinstance(validate(spec), list)
