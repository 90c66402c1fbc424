import pytest

import export_helpers as H


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / "tiny.model"
    path.write_bytes(H.sentencepiece_model())
    return path


@pytest.fixture(scope="module")
def classifier_export(tmp_path_factory):
    """(model, exporter, path, manifest): one export per test module and backend (they take seconds)."""
    from keras_vision.export import ClassifierExporter

    model = H.classifier()
    exporter = ClassifierExporter(model, pp=H.PP, class_names=H.CLASS_NAMES, top_k=3)
    path = tmp_path_factory.mktemp("export") / "classifier" / "1"
    manifest = exporter.export(path)
    return model, exporter, path, manifest


@pytest.fixture(scope="module")
def two_tower_export(tmp_path_factory, spm_model):
    from keras_vision.export import TwoTowerExporter

    model = H.two_tower()
    exporter = TwoTowerExporter(
        model, pp="resize(32)|value_range(-1, 1)", tokenizer=spm_model,
        text_kwargs=dict(eos="sticky", pad_value=3), class_names=H.CLASS_NAMES,
        prompt_templates=("a {}", "a photo of a {}."), top_k=2,
    )
    path = tmp_path_factory.mktemp("export") / "two_tower" / "1"
    manifest = exporter.export(path)
    return model, exporter, path, manifest
