"""The adapter store: adapters only from inside the tenant's directory, with ids the server assigns."""

from __future__ import annotations

import os

import pytest

from personas.adapter_store import AdapterPathError, AdapterStore, adapter_name, content_hash


def make_adapter(directory, weights: bytes = b"w1"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_config.json").write_text('{"r": 8}')
    (directory / "adapter_model.safetensors").write_bytes(weights)
    return directory


@pytest.fixture
def store(tmp_path):
    return AdapterStore(tmp_path / "adapters")


@pytest.mark.parametrize(
    "path",
    ["/etc", "/", "..", "../tenant-b/anna", "anna/../../tenant-b/anna", "", " ", "anna/v1\x00", "~root"],
)
def test_paths_outside_the_tenants_store_are_refused(store, path):
    make_adapter(store.root / "tenant-b" / "anna")
    make_adapter(store.root / "tenant-a" / "anna" / "v1")
    with pytest.raises(AdapterPathError):
        store.publish("tenant-a", path, 1)


def test_links_out_of_the_store_are_refused(store, tmp_path):
    theirs = make_adapter(store.root / "tenant-b" / "anna")
    mine = store.root_for("tenant-a")
    os.symlink(theirs, mine / "borrowed")  # a directory link to another tenant's adapter
    with pytest.raises(AdapterPathError, match="symbolic link"):
        store.publish("tenant-a", "borrowed", 1)
    sneaky = make_adapter(mine / "sneaky")
    (sneaky / "adapter_model.safetensors").unlink()
    os.symlink(theirs / "adapter_model.safetensors", sneaky / "adapter_model.safetensors")  # a file link
    with pytest.raises(AdapterPathError, match="symbolic links"):
        store.publish("tenant-a", "sneaky", 1)


def test_a_directory_that_is_not_an_adapter_is_refused(store):
    (store.root_for("tenant-a") / "empty").mkdir()
    with pytest.raises(AdapterPathError, match="not a LoRA adapter"):
        store.publish("tenant-a", "empty", 1)
    with pytest.raises(AdapterPathError, match="no adapter directory"):
        store.publish("tenant-a", "missing", 1)


def test_the_same_weights_in_two_tenants_get_two_ids_and_new_weights_a_new_id(store):
    a = store.publish("tenant-a", make_adapter(store.root / "tenant-a" / "anna").name, 1)
    b = store.publish("tenant-b", make_adapter(store.root / "tenant-b" / "anna").name, 1)
    assert a.sha256 == b.sha256 and a.name != b.name  # one content, two tenants: never one cache entry
    assert a.name == adapter_name("tenant-a", a.sha256)
    a2 = store.publish("tenant-a", make_adapter(store.root / "tenant-a" / "anna2", b"w2").name, 2)
    assert a2.name != a.name and a2.path.endswith("tenant-a/anna2")


def test_a_stored_adapter_is_checked_for_its_tenant_and_its_files(store):
    d = make_adapter(store.root / "tenant-a" / "anna")
    adapter = store.publish("tenant-a", "anna", 1)
    assert store.problem("tenant-a", adapter) is None
    assert "tenant" in store.problem("tenant-b", adapter)  # another tenant cannot use it
    assert "not published" in store.problem("tenant-a", adapter.model_copy(update={"sha256": None}))
    forged = adapter.model_copy(update={"name": adapter_name("tenant-b", adapter.sha256)})
    assert "does not belong" in store.problem("tenant-a", forged)
    (d / "adapter_model.safetensors").write_bytes(b"swapped")
    assert "changed after it was published" in store.problem("tenant-a", adapter)
    assert content_hash(d) != adapter.sha256


def test_tenant_ids_that_are_not_plain_names_are_refused(store):
    for bad in ("..", "a/b", "x" * 200):
        with pytest.raises(AdapterPathError):
            store.root_for(bad)
