"""What may be written where (``sim.folders``): a run folder is sound only when its manifest is
the project's and lists exactly its files with their SHA-256; folders are recognised by what the
project wrote into them; run folders are replaced atomically and damaged ones kept aside;
temporary folders of writers that are gone are removed. Plain files in temporary folders: no
simulation runs here."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sim import folders
from sim.folders import (
    CHECKSUMS,
    EARLIER,
    FORMAT,
    LEGACY_MARKER,
    MARKER,
    PROJECT,
    QUARANTINE,
    alive,
    atomic_folder,
    check_output_dir,
    check_study_folder,
    check_writable,
    damage,
    is_ours,
    is_run_folder,
    legacy,
    manifest,
    mark,
    marker,
    recognised,
    refuse_foreign,
    refuse_links,
    remove_stale_temps,
    replacing,
    set_aside,
    write_checksums,
    write_json,
)
from sim.params import ConfigError

FILES = {"config.yaml": "seed: 1\n", "provenance.json": '{"status": "ok"}', "summary.json": "{}"}


def make_run(folder: Path, files: dict[str, str] = FILES) -> Path:
    """A sound run folder: its files, then its manifest."""
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    write_checksums(folder)
    return folder


def listed(folder: Path) -> dict[str, str]:
    return json.loads((folder / CHECKSUMS).read_text())["files"]


def rewrite_manifest(folder: Path, **changes) -> None:
    doc = json.loads((folder / CHECKSUMS).read_text()) | changes
    (folder / CHECKSUMS).write_text(json.dumps(doc))


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


# --------------------------------------------------------------------------------------------
# Manifests and damage
# --------------------------------------------------------------------------------------------


def test_the_manifest_lists_every_file_with_its_sha256_and_the_projects_identity(tmp_path):
    run = make_run(tmp_path / "r1")
    doc = json.loads((run / CHECKSUMS).read_text())
    assert doc["project"] == PROJECT and doc["kind"] == "run" and doc["format"] == FORMAT
    assert sorted(doc["files"]) == sorted(FILES)  # not itself
    import hashlib

    for name, text in FILES.items():
        assert doc["files"][name] == hashlib.sha256(text.encode()).hexdigest()
    assert manifest(run) == doc
    assert damage(run) == ""
    assert is_run_folder(run) and is_ours(run)


def test_a_big_file_is_hashed_whole(tmp_path):
    run = tmp_path / "r1"
    run.mkdir()
    data = os.urandom(3 << 20) + b"tail"
    (run / "timeseries.parquet").write_bytes(data)
    write_checksums(run)
    import hashlib

    assert listed(run)["timeseries.parquet"] == hashlib.sha256(data).hexdigest()
    (run / "timeseries.parquet").write_bytes(data[:-1] + b"T")  # the last block differs
    assert damage(run) == "timeseries.parquet does not match its checksum"


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_edited_truncated_or_deleted_makes_its_run_damaged(tmp_path, name):
    for harm, why in (
        (lambda p: p.write_text(p.read_text() + " "), "does not match its checksum"),
        (lambda p: p.write_bytes(p.read_bytes()[:1]), "does not match its checksum"),
        (lambda p: p.write_text(""), "does not match its checksum"),
        (Path.unlink, "is missing"),
    ):
        run = make_run(tmp_path / f"r-{len(list(tmp_path.iterdir()))}")
        harm(run / name)
        assert damage(run) == f"{name} {why}"


def test_a_file_the_manifest_does_not_list_makes_its_run_damaged(tmp_path):
    run = make_run(tmp_path / "r1")
    (run / "notes.txt").write_text("mine")
    assert damage(run) == f"notes.txt is not in {CHECKSUMS}"
    (run / "a-folder").mkdir()
    assert damage(run) == f"a-folder is not in {CHECKSUMS}"  # the first, in name order


def test_the_manifest_must_list_provenance_and_every_other_file_there(tmp_path):
    run = make_run(tmp_path / "r1")
    files = listed(run)
    del files["provenance.json"]
    rewrite_manifest(run, files=files)
    assert damage(run) == f"provenance.json is not in {CHECKSUMS}"
    (run / "provenance.json").unlink()  # gone, and not listed: the manifest is what it shows
    assert damage(run) == ""
    assert is_run_folder(run)  # still a run folder (its manifest): the store decides more


def test_a_missing_unreadable_or_foreign_manifest_makes_its_run_damaged(tmp_path):
    why = f"{CHECKSUMS} is missing, unreadable or not this project's"
    run = make_run(tmp_path / "r1")
    (run / CHECKSUMS).unlink()
    assert manifest(run) is None and damage(run) == why
    assert is_run_folder(run)  # provenance.json alone makes it a run folder, damaged
    for text in (
        "{not json",
        "[]",
        json.dumps({"project": "another", "kind": "run", "format": 2, "files": {}}),
        json.dumps({"project": PROJECT, "kind": "experiment", "format": 2, "files": {}}),
        json.dumps({"project": PROJECT, "kind": "run", "format": 2, "files": ["a"]}),
        json.dumps({"project": PROJECT, "kind": "run", "format": 2}),
    ):
        (run / CHECKSUMS).write_text(text)
        assert manifest(run) is None, text
        assert damage(run) == why, text
    (run / CHECKSUMS).unlink()
    (run / CHECKSUMS).mkdir()  # a folder where the manifest should be
    assert manifest(run) is None and damage(run) == why


def test_a_manifest_of_bare_digests_was_written_by_an_earlier_version(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "provenance.json").write_text("{}")
    (run / CHECKSUMS).write_text(json.dumps({"provenance.json": "a" * 64}))
    assert damage(run) == f"{CHECKSUMS} was {EARLIER}"
    assert legacy(tmp_path) and legacy(run)
    (run / CHECKSUMS).write_text(json.dumps({"provenance.json": "a" * 63}))  # not a digest
    assert not legacy(tmp_path)
    (run / CHECKSUMS).write_text(json.dumps({}))
    assert not legacy(run)
    (run / CHECKSUMS).write_text(json.dumps({"a": "b" * 64, "c": 5}))
    assert not legacy(run)


def test_links_and_files_are_not_looked_into_for_an_earlier_versions_runs(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "old"
    elsewhere.mkdir(parents=True)
    (elsewhere / CHECKSUMS).write_text(json.dumps({"provenance.json": "a" * 64}))
    assert legacy(elsewhere.parent)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "old").symlink_to(elsewhere)
    (folder / CHECKSUMS).symlink_to(elsewhere / CHECKSUMS)
    assert not legacy(folder)


def test_a_listed_file_that_is_a_link_or_a_folder_counts_as_missing(tmp_path):
    run = make_run(tmp_path / "r1")
    outside = tmp_path / "elsewhere.json"
    outside.write_text(FILES["summary.json"])
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(outside)  # same content, through a link
    assert damage(run) == "summary.json is missing"
    (run / "summary.json").unlink()
    (run / "summary.json").mkdir()
    assert damage(run) == "summary.json is missing"


def test_a_run_folder_that_is_a_link_is_damaged_and_its_manifest_never_read(tmp_path):
    run = make_run(tmp_path / "r1")
    link = tmp_path / "r2"
    link.symlink_to(run)
    assert damage(link) == "r2 is a symbolic link (never followed)"
    (run / CHECKSUMS).rename(tmp_path / "a-manifest.json")
    (run / CHECKSUMS).symlink_to(tmp_path / "a-manifest.json")  # a sound manifest, linked
    assert manifest(run) is None
    assert damage(run) == f"{CHECKSUMS} is missing, unreadable or not this project's"


def test_run_folders_are_visible_folders_with_a_provenance_or_a_manifest(tmp_path):
    assert not is_run_folder(tmp_path / "none")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not is_run_folder(plain)
    for name in ("provenance.json", CHECKSUMS):
        one = tmp_path / f"with-{name}"
        one.mkdir()
        (one / name).write_text("{}")
        assert is_run_folder(one)
        hidden = tmp_path / f".hidden-{name}"
        hidden.mkdir()
        (hidden / name).write_text("{}")
        assert not is_run_folder(hidden)  # a temporary folder being written
    (tmp_path / "a-file").write_text("{}")
    assert not is_run_folder(tmp_path / "a-file")
    inner = tmp_path / "dir-named"
    (inner / "provenance.json").mkdir(parents=True)  # a folder of that name is not the file
    assert not is_run_folder(inner)


# --------------------------------------------------------------------------------------------
# Writing run folders
# --------------------------------------------------------------------------------------------


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_a_run_folder_is_written_whole_with_its_manifest_last(tmp_path):
    target = tmp_path / "results" / "runs" / "abc"  # its parents made too
    with atomic_folder(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".abc.tmp-")
        assert not target.exists()
        for name, text in FILES.items():
            (tmp / name).write_text(text)
    assert damage(target) == "" and sorted(listed(target)) == sorted(FILES)
    assert sorted(p.name for p in target.parent.iterdir()) == ["abc"]  # no temporary left
    assert oct(target.stat().st_mode & 0o777) == oct(0o755)


def test_a_failed_write_leaves_the_old_folder_as_it_was_and_no_temporary(tmp_path):
    target = make_run(tmp_path / "abc")
    before = _contents(target)
    with pytest.raises(RuntimeError, match="killed"), atomic_folder(target) as tmp:
        (tmp / "summary.json").write_text("new")
        raise RuntimeError("killed")
    assert _contents(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc"]


def test_a_sound_run_folder_is_replaced_and_deleted(tmp_path):
    target = make_run(tmp_path / "abc")
    with atomic_folder(target) as tmp:
        (tmp / "summary.json").write_text("new")
    assert _contents(target) == {"summary.json": "new", CHECKSUMS: (target / CHECKSUMS).read_text()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc"]  # no damaged/, no temporary


@pytest.mark.parametrize("harm", ["edited", "extra file", "no manifest"])
def test_a_damaged_run_folder_is_kept_aside_when_replaced(tmp_path, harm):
    target = make_run(tmp_path / "abc")
    if harm == "edited":
        (target / "summary.json").write_text("edited by hand")
    elif harm == "extra file":
        (target / "notes.txt").write_text("mine")
    else:
        (target / CHECKSUMS).unlink()
    before = _contents(target)
    with atomic_folder(target) as tmp:
        (tmp / "summary.json").write_text("new")
    assert damage(target) == "" and (target / "summary.json").read_text() == "new"
    (kept,) = (tmp_path / QUARANTINE).iterdir()
    assert kept.name.startswith("abc-") and kept.name.endswith(f"-{os.getpid()}")
    assert _contents(kept) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc", QUARANTINE]


def test_a_link_where_a_run_folder_goes_is_moved_aside_never_followed(tmp_path):
    elsewhere = make_run(tmp_path / "elsewhere")
    before = _contents(elsewhere)
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "abc").symlink_to(elsewhere)
    with atomic_folder(runs / "abc") as tmp:
        (tmp / "summary.json").write_text("new")
    assert not (runs / "abc").is_symlink() and damage(runs / "abc") == ""
    assert _contents(elsewhere) == before
    (kept,) = (runs / QUARANTINE).iterdir()
    assert kept.is_symlink() and kept.resolve() == elsewhere


def test_set_aside_moves_into_damaged_by_time_and_pid_and_refuses_a_linked_damaged(tmp_path):
    one = make_run(tmp_path / "abc")
    kept = set_aside(one)
    assert kept.parent == tmp_path / QUARANTINE and not one.exists()
    stamp = kept.name.removeprefix("abc-").removesuffix(f"-{os.getpid()}")
    assert len(stamp) == 15 and stamp[8] == "T" and stamp.replace("T", "").isdigit()
    again = make_run(tmp_path / "abd")
    assert set_aside(again).parent == kept.parent  # damaged/ exists: used as it is
    assert len(list(kept.parent.iterdir())) == 2
    other = tmp_path / "other"
    other.mkdir()
    (other / "abc").mkdir()
    (other / QUARANTINE).symlink_to(tmp_path / "trap")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        set_aside(other / "abc")
    assert (other / "abc").is_dir()


# --------------------------------------------------------------------------------------------
# Recognising folders
# --------------------------------------------------------------------------------------------


def test_a_folder_is_recognised_by_what_the_project_wrote_into_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert recognised(empty)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert not recognised(foreign)
    (foreign / "checksums").mkdir()  # a folder, but not one of the project's
    assert not recognised(foreign)
    marked = tmp_path / "marked"
    mark(marked)
    assert recognised(marked) and is_ours(marked)
    (marked / "notes.txt").write_text("mine")
    assert recognised(marked)
    holding = tmp_path / "holding"
    make_run(holding / "r1")
    (holding / "notes.txt").write_text("mine")
    assert recognised(holding) and not is_ours(holding)
    writing = tmp_path / "writing"
    (writing / ".abc.tmp-host-12-x").mkdir(parents=True)
    assert recognised(writing)
    runs = tmp_path / "experiment" / "runs"
    runs.mkdir(parents=True)
    (runs / "notes.txt").write_text("mine")
    assert not recognised(runs)
    mark(runs.parent)
    assert recognised(runs)
    mark(tmp_path / "study", "runs")
    (tmp_path / "study" / "runs").mkdir()
    (tmp_path / "study" / "runs" / "notes.txt").write_text("mine")
    assert not recognised(tmp_path / "study" / "runs")  # only an experiment's runs/
    old = tmp_path / "old"
    (old / "inner").mkdir(parents=True)
    (old / "inner" / MARKER).write_text(LEGACY_MARKER)
    (old / "notes.txt").write_text("mine")
    assert recognised(old)  # holds a folder of version 1


def test_links_and_files_inside_a_folder_are_not_the_projects_folders(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    make_run(elsewhere / "r1")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "r1").symlink_to(elsewhere / "r1")
    assert not recognised(folder)
    (folder / "r1").unlink()
    (folder / ".abc.tmp-host-12-x").write_text("a file, not a temporary folder")
    assert not recognised(folder)


def test_an_unreadable_folder_is_not_recognised(tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    folder.mkdir()

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)
    assert not recognised(folder)
    assert not legacy(folder)


def test_a_marker_is_the_projects_json_of_a_kind(tmp_path):
    folder = tmp_path / "x"
    assert marker(folder) is None
    mark(folder)
    doc = json.loads((folder / MARKER).read_text())
    assert doc == {"project": PROJECT, "kind": "experiment", "format": FORMAT}
    assert marker(folder) == doc and marker(folder, "experiment") == doc
    assert marker(folder, "runs") is None and marker(folder, "figures") is None
    (folder / MARKER).write_text(json.dumps({"project": "other", "kind": "experiment"}))
    assert marker(folder) is None and not is_ours(folder)
    (folder / MARKER).write_text("[1, 2]")
    assert marker(folder) is None


def test_mark_keeps_the_kind_adds_fields_and_writes_only_a_change(tmp_path):
    folder = tmp_path / "a" / "b"
    mark(folder, "runs")
    assert marker(folder)["kind"] == "runs"
    mark(folder, "experiment", report=["report.html"])
    assert marker(folder) == {
        "project": PROJECT,
        "kind": "runs",
        "format": FORMAT,
        "report": ["report.html"],
    }
    past = time.time() - 100
    os.utime(folder / MARKER, (past, past))
    mark(folder, "experiment", report=["report.html"])
    assert (folder / MARKER).stat().st_mtime == pytest.approx(past)  # unchanged: not rewritten
    assert sorted(p.name for p in folder.iterdir()) == [MARKER]


def test_mark_replaces_the_plain_text_marker_of_version_1_and_refuses_any_other(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text(LEGACY_MARKER)
    assert legacy(old) and not is_ours(old)
    mark(old)
    assert marker(old)["kind"] == "experiment" and not legacy(old)
    for text in ("written by someone else\n", json.dumps({"project": "other"})):
        other = tmp_path / f"other{len(text)}"
        other.mkdir()
        (other / MARKER).write_text(text)
        with pytest.raises(ConfigError, match="was not written by this project"):
            mark(other)
        assert (other / MARKER).read_text() == text
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / MARKER).symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="was not written by this project"):
        mark(linked)


def test_write_json_replaces_a_file_whole_and_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"a": 1})
    write_json(path, {"b": 2})
    assert json.loads(path.read_text()) == {"b": 2}
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert json.loads(path.read_text()) == {"b": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


# --------------------------------------------------------------------------------------------
# Refusing places
# --------------------------------------------------------------------------------------------


def test_a_new_empty_or_own_folder_is_accepted(tmp_path):
    refuse_foreign(tmp_path / "new", "output.dir")
    refuse_foreign(tmp_path, "output.dir")  # empty
    mark(tmp_path / "ours")
    (tmp_path / "ours" / "notes.txt").write_text("mine")
    refuse_foreign(tmp_path / "ours", "output.dir")
    make_run(tmp_path / "runs-here" / "r1")
    refuse_foreign(tmp_path / "runs-here", "output.dir")
    check_output_dir(str(tmp_path / "runs-here"))


def test_a_file_a_foreign_folder_and_an_earlier_versions_folder_are_refused(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match=r"output.dir='.*a-file' is a file; allowed: a folder"):
        refuse_foreign(tmp_path / "a-file", "output.dir")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is a non-empty folder this project did not create"):
        refuse_foreign(foreign, "output.dir")
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text(LEGACY_MARKER)
    (old / "notes.txt").write_text("mine")
    with pytest.raises(
        ConfigError, match=re.escape(f"holds results {EARLIER}; choose a new study")
    ):
        refuse_foreign(old, "study.dir")
    assert (old / MARKER).read_text() == LEGACY_MARKER


def test_a_run_folder_or_a_folder_inside_one_is_refused(tmp_path):
    run = make_run(tmp_path / "runs" / "r1")
    with pytest.raises(ConfigError, match=r"is a run folder; allowed: a folder of runs, e\.g\."):
        refuse_foreign(run, "output.dir")
    with pytest.raises(ConfigError, match=f"is inside the run folder {run}"):
        refuse_foreign(run / "deeper" / "still", "output.dir")
    old = tmp_path / "v1"
    old.mkdir()
    for name in folders.RUN_FILES:  # version 1: both of a run's file names
        (old / name).write_text("{}")
    with pytest.raises(ConfigError, match="is a run folder"):
        refuse_foreign(old, "output.dir")
    one = tmp_path / "one"
    one.mkdir()
    (one / "provenance.json").write_text("{}")
    with pytest.raises(ConfigError, match="non-empty folder this project did not create"):
        refuse_foreign(one, "output.dir")  # one name alone is not a run: a foreign folder


@pytest.mark.parametrize("value", ["", "  ", "a\tb", "x\x00y"])
def test_a_blank_or_control_character_folder_is_refused(value):
    with pytest.raises(ConfigError, match="output.dir"):
        check_output_dir(value)


def test_links_among_the_names_are_refused_by_the_first(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "b").symlink_to(tmp_path / "real")
    (tmp_path / "c").symlink_to(tmp_path / "real")
    refuse_links(tmp_path, ["real", "missing"], "key")
    with pytest.raises(ConfigError, match=f"key: {tmp_path / 'b'} is a symbolic link"):
        refuse_links(tmp_path, ["real", "b", "c"], "key")


def test_a_folder_is_checked_writable_without_a_trace(tmp_path):
    past = time.time() - 1000
    os.utime(tmp_path, (past, past))
    check_writable(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []
    assert tmp_path.stat().st_mtime == pytest.approx(past)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"cannot make .*file is a file; allowed: a folder"):
        check_writable(tmp_path / "file" / "below")
    check_study_folder(tmp_path / "study", "study.dir")


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    def refuse(**_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(folders.tempfile, "mkdtemp", refuse)
    with pytest.raises(ConfigError, match=r"output.dir: cannot write .*\(Permission denied in"):
        check_writable(tmp_path / "out")
    with pytest.raises(ConfigError, match="study.dir: cannot write"):
        check_study_folder(tmp_path / "out", "study.dir")


# --------------------------------------------------------------------------------------------
# Temporary folders of writers that are gone
# --------------------------------------------------------------------------------------------


def test_temporary_folders_of_dead_or_old_writers_go_live_and_foreign_ones_stay(tmp_path):
    host = socket.gethostname()
    names = {
        "dead": f".r1.tmp-{host}-{dead_pid()}-a",
        "live": f".r2.tmp-{host}-{os.getpid()}-b",
        "old": f".r3.tmp-{host}-{os.getpid()}-c",
        "elsewhere": f".r4.tmp-otherhost-{dead_pid()}-d",
        "old elsewhere": ".r5.tmp-otherhost-1-e",
        "not temporary": "r6",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
    a_file = f".r7.tmp-{host}-{dead_pid()}-f"
    (tmp_path / a_file).write_text("a file, not a folder")
    for key in ("old", "old elsewhere"):
        old = time.time() - folders.STALE_SECONDS - 60
        os.utime(tmp_path / names[key], (old, old))
    removed = remove_stale_temps(tmp_path)
    gone = {names[k] for k in ("dead", "old", "old elsewhere")}
    assert {p.name for p in removed} == gone
    assert {p.name for p in tmp_path.iterdir()} == set(names.values()) - gone | {a_file}


def test_a_temporary_folder_just_under_the_age_limit_is_kept(tmp_path):
    name = f".r1.tmp-otherhost-{os.getpid()}-a"
    (tmp_path / name).mkdir()
    young = time.time() - folders.STALE_SECONDS + 60
    os.utime(tmp_path / name, (young, young))
    assert remove_stale_temps(tmp_path) == []


def test_a_process_is_alive_until_it_ends_and_someone_elses_counts_as_alive(monkeypatch):
    assert alive(os.getpid())
    assert not alive(dead_pid())

    def not_mine(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(folders.os, "kill", not_mine)
    assert alive(12345) is True
