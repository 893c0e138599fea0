"""core.coverage: which volumes a RecurringJob runs on, from volume labels."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.core.coverage import covered_volumes, group_label_key, has_recurring_job_labels, job_label_key

VOLUMES = {
    "pvc-plain": {},
    "pvc-other-labels": {"app": "db", "longhorn.io/something": "x"},
    "pvc-direct": {"recurring-job.longhorn.io/nightly": "enabled"},
    "pvc-direct-disabled": {"recurring-job.longhorn.io/nightly": "disabled"},
    "pvc-gold": {"recurring-job-group.longhorn.io/gold": "enabled"},
    "pvc-gold-and-direct": {
        "recurring-job-group.longhorn.io/gold": "enabled",
        "recurring-job.longhorn.io/nightly": "enabled",
    },
    "pvc-explicit-default": {"recurring-job-group.longhorn.io/default": "enabled"},
    "pvc-source-only": {"recurring-job.longhorn.io/source": "enabled"},
    "pvc-other-job": {"recurring-job.longhorn.io/weekly": "enabled"},
}


def test_label_keys() -> None:
    assert job_label_key("nightly") == "recurring-job.longhorn.io/nightly"
    assert group_label_key("gold") == "recurring-job-group.longhorn.io/gold"


def test_job_label_selects_only_enabled() -> None:
    assert covered_volumes("nightly", [], VOLUMES) == ["pvc-direct", "pvc-gold-and-direct"]


def test_group_labels() -> None:
    assert covered_volumes("weekly", ["gold"], VOLUMES) == [
        "pvc-gold",
        "pvc-gold-and-direct",
        "pvc-other-job",
    ]


def test_a_volume_is_listed_once() -> None:
    assert covered_volumes("nightly", ["gold"], VOLUMES) == ["pvc-direct", "pvc-gold", "pvc-gold-and-direct"]


def test_default_group_takes_volumes_without_recurring_job_labels() -> None:
    assert covered_volumes("snap", ["default"], VOLUMES) == [
        "pvc-explicit-default",
        "pvc-other-labels",
        "pvc-plain",
    ]
    # A disabled label, the source label or another job's label still count as "has labels".
    assert not set(covered_volumes("snap", ["default"], VOLUMES)) & {
        "pvc-direct-disabled",
        "pvc-source-only",
        "pvc-other-job",
    }


def test_without_default_group_unlabelled_volumes_are_not_covered() -> None:
    assert covered_volumes("snap", ["silver"], VOLUMES) == []


def test_docs_example_groups() -> None:
    # shared example 01: groups [default, group1]
    volumes = {"a": {}, "b": {"recurring-job-group.longhorn.io/group1": "enabled"}, "c": {"x": "y"}}
    assert covered_volumes("snapshot-1", ["default", "group1"], volumes) == ["a", "b", "c"]


def test_system_backup_covers_no_volumes() -> None:
    assert covered_volumes("sb", ["default"], VOLUMES, task="system-backup") == []
    assert covered_volumes("sb", ["default"], VOLUMES, task="backup") != []


def test_prefix_test_has_no_slash_like_longhorn() -> None:
    assert has_recurring_job_labels({"recurring-job.longhorn.io": "x"})
    assert has_recurring_job_labels({"recurring-job-group.longhorn.io/a": "disabled"})
    assert not has_recurring_job_labels({"longhorn.io/recurring-job": "x"})


_labels = st.dictionaries(
    st.one_of(
        st.sampled_from([job_label_key("j"), group_label_key("g"), group_label_key("default"), "app"]),
        st.text(max_size=8),
    ),
    st.sampled_from(["enabled", "disabled", ""]),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=5), _labels, max_size=6),
    st.lists(st.sampled_from(["g", "default", "h"])),
)
def test_coverage_is_sorted_and_a_subset(volumes: dict[str, dict[str, str]], groups: list[str]) -> None:
    result = covered_volumes("j", groups, volumes)
    assert result == sorted(set(result))
    assert set(result) <= set(volumes)
    for name in result:
        labels = volumes[name]
        assert (
            labels.get(job_label_key("j")) == "enabled"
            or any(labels.get(group_label_key(g)) == "enabled" for g in groups)
            or ("default" in groups and not has_recurring_job_labels(labels))
        )
