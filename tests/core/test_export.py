import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from regui.core.export import ExportError, check_writable, write_csv, write_json


def test_csv_is_excel_friendly_and_formula_safe(tmp_path):
    rows = [
        {"class": '=HYPERLINK("http://x")', "value": -1.5, "note": "+1", "who": "@me", "plain": "café"},
        {"class": "-cmd", "value": 2, "note": None, "who": "ok", "plain": "猫"},
    ]
    path = tmp_path / "out.csv"
    write_csv(path, rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    with open(path, newline="", encoding="utf-8-sig") as fh:
        back = list(csv.DictReader(fh))
    assert back[0]["class"] == '\'=HYPERLINK("http://x")'
    assert back[0]["value"] == "-1.5"  # numbers untouched, even negative ones
    assert back[0]["note"] == "'+1" and back[0]["who"] == "'@me" and back[0]["plain"] == "café"
    assert back[1]["class"] == "'-cmd" and back[1]["note"] == "" and back[1]["plain"] == "猫"


def test_json_has_no_bare_nan_and_plain_numbers(tmp_path):
    path = tmp_path / "h.json"
    write_json(path, {"a": np.float32(0.5), "b": float("nan"), "c": [np.int64(3), math.inf], "d": np.arange(2)})
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": 0.5, "b": None, "c": [3, None], "d": [0, 1]}


def test_unwritable_destination_is_a_clear_error_and_leaves_nothing(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        check_writable(tmp_path / "missing" / "x.csv")
    with pytest.raises(ExportError, match="is a folder"):
        check_writable(tmp_path)
    with pytest.raises(ExportError, match="Cannot write"):
        write_csv(tmp_path / "missing" / "x.csv", [{"a": 1}])
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_refuses_files_is_found_before_any_work(tmp_path):
    check_writable(tmp_path / "fine.csv")  # a writable folder passes and keeps no trace of the try
    assert list(tmp_path.iterdir()) == []
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc, a folder where no file can be made (even by root)")
    with pytest.raises(ExportError, match="Cannot write /proc/regui-x.csv"):
        check_writable("/proc/regui-x.csv")


def test_overwrite_replaces_whole_file(tmp_path):
    path = tmp_path / "r.csv"
    write_csv(path, [{"a": i} for i in range(100)])
    write_csv(path, [{"a": 1}])
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["a", "1"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_symlink_is_written_through_not_replaced(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_csv(link, [{"a": 1}])
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8-sig").splitlines() == ["a", "1"]


def test_a_pipe_is_written_into_not_replaced(tmp_path):
    import os
    import threading

    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    received = []

    def read():
        with open(pipe, "rb") as fh:
            received.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    write_csv(pipe, [{"a": 1}])
    reader.join(5)
    assert pipe.exists() and not pipe.is_file()  # still a pipe
    assert received and received[0].decode("utf-8-sig").splitlines() == ["a", "1"]


def test_undecodable_names_are_escaped_not_fatal(tmp_path):
    name = b"caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 folder name on a UTF-8 system
    write_csv(tmp_path / "r.csv", [{"class": name}])
    write_json(tmp_path / "r.json", {"class": name})
    assert "caf" in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["class"].startswith("caf")


def test_missing_folder_message_names_the_folder(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        write_csv(tmp_path / "nope" / "r.csv", [{"a": 1}])
