"""The command line: ``python -m nnfast demo`` and ``info``."""

import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "nnfast", *args], capture_output=True, text=True, timeout=300)


def test_demo_trains_digits_and_reports_accuracy():
    pytest.importorskip("sklearn")
    out = _run("demo", "--epochs", "20")
    assert out.returncode == 0, out.stderr
    assert "Epoch 20/20" in out.stdout
    acc = float(out.stdout.split("test accuracy:")[1].split()[0])
    assert acc >= 0.95


def test_demo_rejects_bad_arguments_with_one_line():
    out = _run("demo", "--epochs", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--epochs" in out.stderr


def test_unknown_command_exits_2():
    out = _run("frobnicate")
    assert out.returncode == 2
