"""`--self-test --device-report`: Core ML's per-operation compute plan, parsed and judged.

No Mac here: the platform facts are injected (PlatformFacts) and the compute-plan log is a
constructed one in the form ONNX Runtime's ProfileComputePlan option logs through NSLog (one line
per MLProgram operation: operator, preferred device, estimated cost, behind NSLog's prefix)."""
from __future__ import annotations

import json

import pytest

from app.cli import main as cli

from app.base import model_files

from app.selftest import run as selftest
from app.engine import device_report as dr

MAC_M2 = dr.PlatformFacts(system="Darwin", machine="arm64", is_vm=False, coreml_available=True,
                          macos_version=(15, 3, 1))
MAC_VM = dr.PlatformFacts(system="Darwin", machine="arm64", is_vm=True, coreml_available=True,
                          macos_version=(15, 3))
LINUX = dr.PlatformFacts(system="Linux", machine="x86_64", is_vm=False, coreml_available=False,
                         macos_version=None)

_PREFIX = "2026-12-04 10:11:12.345 FaceMirror[4242:77777] "
_DEVICE = {dr.NEURAL_ENGINE: "<MLNeuralEngineComputeDevice: 0x6000036ec0e0>",
           dr.GPU: "<MLGPUComputeDevice: 0x600003a1c000>",
           dr.CPU: "<MLCPUComputeDevice: 0x6000036e8170>"}


def plan_log(ops: list[tuple[str, str]], noise: bool = True) -> str:
    """A compute-plan log: (MIL operator, device) per line, with const operations and other log lines."""
    lines = []
    if noise:
        lines += [_PREFIX + "Number of operations, 'const' node is included. : 99",
                  "[W:onnxruntime:, coreml_execution_provider.cc:112 GetCapability] 1 partition",
                  _PREFIX + f"Operation: const, Device Usage: {_DEVICE[dr.CPU]}, Estimated Cost: 0.000000"]
    for i, (op, device) in enumerate(ops):
        lines.append(_PREFIX + f"Operation: {op}, Device Usage: {_DEVICE[device]}, Estimated Cost: {0.01 * (i + 1):f}")
    return "\n".join(lines) + "\n"


STAR_ON_ANE = plan_log([("ios17.conv", dr.NEURAL_ENGINE)] * 5 + [("ios17.add", dr.NEURAL_ENGINE)] * 2
                       + [("ios16.sigmoid", dr.GPU), ("ios17.reduce_sum", dr.CPU)])
STAR_ON_CPU = plan_log([("ios17.conv", dr.CPU)] * 5 + [("ios17.add", dr.CPU)] * 2)


def test_parse_compute_plan_log_counts_per_op_type_and_device():
    ops = dr.parse_compute_plan_log(STAR_ON_ANE)
    assert len(ops) == 9                                      # const and the other lines are not operations
    assert ops[0] == dr.PlannedOp("conv", dr.NEURAL_ENGINE, pytest.approx(0.01))
    by_type = dr.count_by_op_type(ops)
    assert by_type == {"add": {"NeuralEngine": 2, "GPU": 0, "CPU": 0},
                       "conv": {"NeuralEngine": 5, "GPU": 0, "CPU": 0},
                       "reduce_sum": {"NeuralEngine": 0, "GPU": 0, "CPU": 1},
                       "sigmoid": {"NeuralEngine": 0, "GPU": 1, "CPU": 0}}
    assert dr.totals(by_type) == {"NeuralEngine": 7, "GPU": 1, "CPU": 1}


def test_parse_accepts_other_mlcomputeplan_wordings_and_ignores_unrelated_lines():
    text = (_PREFIX + "operation ios17.conv, device <MLNeuralEngineComputeDevice: 0x1>, cost 0.5662%\n"
            + "the mlmodelc directory: file:///tmp/x.mlmodelc/\n"
            + "MLCPUComputeDevice mentioned without an operation\n")
    assert dr.parse_compute_plan_log(text) == [dr.PlannedOp("conv", dr.NEURAL_ENGINE, None)]
    assert dr.parse_compute_plan_log("") == []


def test_device_report_with_injected_platform_facts_star_on_cpu_fails_on_real_hardware():
    ops = dr.parse_compute_plan_log(STAR_ON_CPU)
    real = dr.judge_model("star_landmark_98.onnx", ops, MAC_M2, required=True)
    assert not real.ok and "all 7 operations on CPU compute units on real hardware" in real.verdict
    vm = dr.judge_model("star_landmark_98.onnx", ops, MAC_VM, required=True)
    assert vm.ok and "virtual machine" in vm.verdict
    # The detector is reported, never required off the CPU.
    assert dr.judge_model("retinaface_mobilenet025.onnx", ops, MAC_M2, required=False).ok


def test_device_report_with_injected_platform_facts_star_on_neural_engine_passes():
    ops = dr.parse_compute_plan_log(STAR_ON_ANE)
    m = dr.judge_model("star_landmark_98.onnx", ops, MAC_M2, required=True)
    assert m.ok and "9 operations, 89 % on the Neural Engine or the GPU" in m.verdict


def test_device_report_with_injected_platform_facts_empty_log_proves_nothing():
    m = dr.judge_model("star_landmark_98.onnx", [], MAC_VM, required=True)
    assert not m.ok and "nothing proved" in m.verdict


@pytest.mark.parametrize("facts, ort, fragment", [
    (LINUX, "1.32.0", "this is Linux x86_64"),
    (dr.PlatformFacts("Darwin", "arm64", False, True, (14, 3)), "1.32.0", "this is macOS 14.3 arm64"),
    (dr.PlatformFacts("Darwin", "arm64", False, False, (15, 0)), "1.32.0", "no CoreMLExecutionProvider"),
    (MAC_M2, "1.31.1", "this is ONNX Runtime 1.31.1"),
])
def test_report_support_with_injected_platform_facts_says_why_not(facts, ort, fragment):
    ok, why = dr.report_support(facts, ort)
    assert not ok
    assert why.startswith("device reports need macOS 14.4 or later with CoreML") and fragment in why


def test_report_support_with_injected_platform_facts_accepts_a_recent_mac():
    assert dr.report_support(MAC_M2, "1.32.0") == (True, "")
    assert dr.report_support(dr.PlatformFacts("Darwin", "arm64", False, True, (14, 4)), "1.33.0.dev1")[0]


def test_parse_version():
    assert dr.parse_version("14.4.1") == (14, 4, 1)
    assert dr.parse_version("1.32.0.dev20260101") == (1, 32, 0)
    assert dr.parse_version("") == ()


def _models(tmp_path):
    star = tmp_path / "star_landmark_98.onnx"
    rf = tmp_path / "retinaface_mobilenet025.onnx"
    return {model_files.RETINAFACE_KEY: rf, model_files.STAR_KEY: star}


def test_write_device_report_with_injected_platform_facts_json(tmp_path, capsys):
    logs = {"star_landmark_98.onnx": STAR_ON_ANE, "retinaface_mobilenet025.onnx": STAR_ON_CPU}
    out = tmp_path / "sub" / "report.json"
    passed = selftest.write_device_report(_models(tmp_path), out, MAC_M2, "1.32.0",
                                          capture=lambda p: logs[p.name])
    assert passed
    doc = json.loads(out.read_text())
    assert doc["passed"] is True and doc["option"] == "ProfileComputePlan=1"
    assert doc["platform"]["macos_version"] == "15.3.1" and doc["platform"]["is_vm"] is False
    star = doc["models"]["star_landmark_98.onnx"]
    assert star["required_off_cpu"] is True
    assert star["operations"] == {"NeuralEngine": 7, "GPU": 1, "CPU": 1}
    assert star["by_op_type"]["conv"] == {"NeuralEngine": 5, "GPU": 0, "CPU": 0}
    assert doc["models"]["retinaface_mobilenet025.onnx"]["required_off_cpu"] is False
    assert "device report written to" in capsys.readouterr().out


def test_write_device_report_with_injected_platform_facts_fails_when_star_is_wholly_on_cpu(tmp_path):
    out = tmp_path / "report.json"
    assert not selftest.write_device_report(_models(tmp_path), out, MAC_M2, "1.32.0", capture=lambda p: STAR_ON_CPU)
    doc = json.loads(out.read_text())
    assert doc["passed"] is False and doc["models"]["star_landmark_98.onnx"]["ok"] is False
    # The same plan on a virtual Mac is what GitHub's runners give: reported, not failed.
    assert selftest.write_device_report(_models(tmp_path), out, MAC_VM, "1.32.0", capture=lambda p: STAR_ON_CPU)


def test_self_test_device_report_with_injected_linux_facts_exits_2_before_loading_models(monkeypatch, capsys, tmp_path):
    def boom(*a, **k):
        raise AssertionError("the self-test must not run when no device report can be made")

    monkeypatch.setattr(selftest, "_check_models", boom)
    code = selftest.run_self_test(device_report=tmp_path / "r.json", facts=LINUX)
    assert code == dr.EXIT_UNSUPPORTED == 2
    out = capsys.readouterr().out
    assert "device report not made: device reports need macOS 14.4 or later with CoreML" in out
    assert not (tmp_path / "r.json").exists()


def test_cli_device_report_on_this_linux_machine_exits_2(tmp_path, capsys):
    if dr.report_support(dr.PlatformFacts.detect(), "1.32.0")[0]:
        pytest.skip("this machine can make a device report")
    assert cli.main(["--self-test", "--device-report", str(tmp_path / "r.json")]) == 2
    assert "device reports need macOS 14.4" in capsys.readouterr().out
    assert not (tmp_path / "r.json").exists()


def test_cli_device_report_needs_self_test(capsys):
    assert cli.main(["--device-report"]) == 2
    assert "--self-test --device-report" in capsys.readouterr().err
