"""A backend knob the server rejects is a failed variant carrying the server's message, and the
run goes on: the product's loop (ProfileRun, a real store) with a deployer that refuses it."""

from __future__ import annotations

from pathlib import Path

from tritune.config import parse_profile_config
from tritune.domain.backends import MODEL_WARMUP
from tritune.domain.layout import RunLayout
from tritune.domain.serving import ServingConfig
from tritune.domain.status import VariantStatus
from tritune.errors import ModelLoadError
from tritune.profile.context import RunContext
from tritune.profile.orchestrator import ProfileRun
from tritune.profile.records import ModelFiles
from tritune.store import Store
from tritune.testing.deployer import InMemoryDeployer, measured_by
from tritune.testing.synthetic import SYNTHETIC_SIGNATURE, SyntheticSurface

REFUSAL = "load failed for model 'm_config_1': unknown Execution Accelerator 'openvino' is requested"


class RefusingDeployer(InMemoryDeployer):
    """The server's backend refuses any variant that sets a warmup (as a backend built without
    a knob's support refuses it at load)."""

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        if serving.backend_option(MODEL_WARMUP):
            raise ModelLoadError(REFUSAL)
        return super().load(name, serving, precision)


def test_a_rejected_knob_is_a_failed_variant_with_the_servers_message(tmp_path: Path) -> None:
    config = parse_profile_config(
        {
            "profile_models": {
                "m": {
                    "model_path": "m.onnx",
                    "model_config_parameters": {"max_batch_size": [4], "model_warmup": ["off", "random_data"]},
                    "parameters": {"concurrency": [2]},
                }
            },
            "run_config_search_mode": "brute",
        }
    )
    model_file = tmp_path / "synthetic.onnx"
    model_file.write_bytes(b"synthetic")
    deployer = RefusingDeployer()
    with Store.in_run_dir(tmp_path) as store:
        run = ProfileRun(
            config=config,
            model=ModelFiles("m", {"fp32": model_file}, SYNTHETIC_SIGNATURE),
            layout=RunLayout(tmp_path),
            context=RunContext(store, deployer, measured_by(SyntheticSurface(noise=0).measure, deployer)),
        )
        run.search()
        conclusion = run.conclude()
        variants = store.variants(run.run.id)
    failed = [v for v in variants if v.status is VariantStatus.FAILED]
    assert failed and all(v.error == REFUSAL for v in failed)
    assert all(v.serving.backend_option(MODEL_WARMUP) == "random_data" for v in failed)
    assert any(v.status is VariantStatus.LOADED for v in variants)  # the run went on
    assert conclusion.best_name is not None
