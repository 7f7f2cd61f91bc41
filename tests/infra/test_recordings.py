"""Recordings at rest: AES-256-GCM envelope encryption bound to tenant and call, rotation, shredding."""

from __future__ import annotations

import base64
import json
import os
import shutil

import pytest

from infra.crypto import DecryptionError, Keyring
from infra.recordings import RecordingStore

WAV = b"RIFF" + os.urandom(4000)


def key(b: int) -> str:
    return base64.b64encode(bytes([b]) * 32).decode()


@pytest.fixture
def store(tmp_path):
    return RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k1:{key(1)}"))


def test_round_trip_and_nothing_readable_at_rest(store, tmp_path):
    ref = store.write("call1", WAV, "acme")
    assert ref == "acme/call1.wav" and store.read(ref) == WAV
    stored = (tmp_path / "rec" / "acme" / "call1.wav.enc").read_bytes()
    assert WAV[4:100] not in stored and b"RIFF" not in stored
    wrapped = json.loads((tmp_path / "keys" / "acme" / "call1.key").read_text())
    assert wrapped["kid"] == "k1" and len(base64.b64decode(wrapped["wrapped"])) == 32 + 16
    # Two recordings of the same audio share nothing: a fresh data key and nonce each.
    other = store.write("call2", WAV, "acme")
    assert (tmp_path / "rec" / "acme" / "call2.wav.enc").read_bytes() != stored and store.read(other) == WAV


def test_a_recording_moved_to_another_tenant_or_call_does_not_decrypt(store, tmp_path):
    store.write("call1", WAV, "acme")
    store.write("call2", WAV, "acme")
    for src, dst in (("acme/call1", "evil/call1"), ("acme/call1", "acme/call2")):
        for root, suffix in (("rec", ".wav.enc"), ("keys", ".key")):
            (tmp_path / root / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / root / (src + suffix), tmp_path / root / (dst + suffix))
        with pytest.raises(DecryptionError):
            store.read(dst + ".wav")


def test_tampered_data_or_key_is_refused(store, tmp_path):
    ref = store.write("call1", WAV, "acme")
    path = tmp_path / "rec" / "acme" / "call1.wav.enc"
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError):
        store.read(ref)
    ref = store.write("call3", WAV, "acme")
    kpath = tmp_path / "keys" / "acme" / "call3.key"
    k = json.loads(kpath.read_text())
    raw = bytearray(base64.b64decode(k["wrapped"]))
    raw[0] ^= 1
    kpath.write_text(json.dumps({**k, "wrapped": base64.b64encode(bytes(raw)).decode()}))
    with pytest.raises(DecryptionError):
        store.read(ref)


def test_rotation_rewraps_keys_and_keeps_recordings_readable(tmp_path):
    old = RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k1:{key(1)}"))
    refs = [old.write(f"c{i}", WAV + bytes([i]), "acme") for i in range(3)]
    data_before = {r: (tmp_path / "rec" / (r + ".enc")).read_bytes() for r in refs}
    new = RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k2:{key(2)},k1:{key(1)}"))
    assert new.refs() == sorted(refs)
    assert [new.rotate(r) for r in refs] == [True] * 3 and new.rotate(refs[0]) is False
    for r in refs:
        assert (tmp_path / "rec" / (r + ".enc")).read_bytes() == data_before[r]  # the recording is untouched
        assert json.loads((tmp_path / "keys" / (r.removesuffix(".wav") + ".key")).read_text())["kid"] == "k2"
    # After rotation the old master key can be retired.
    only_new = RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k2:{key(2)}"))
    assert [only_new.read(r) for r in refs] == [WAV + bytes([i]) for i in range(3)]
    with pytest.raises(DecryptionError, match="not in the keyring"):
        RecordingStore(tmp_path / "rec", tmp_path / "keys", Keyring.parse(f"k9:{key(9)}")).read(refs[0])


def test_deletion_destroys_the_key_so_a_backup_copy_is_useless(store, tmp_path):
    ref = store.write("call1", WAV, "acme")
    backup = (tmp_path / "rec" / "acme" / "call1.wav.enc").read_bytes()
    assert store.delete(ref) is True and store.delete(ref) is False
    (tmp_path / "rec" / "acme" / "call1.wav.enc").write_bytes(backup)  # restored from a backup
    with pytest.raises(FileNotFoundError):
        store.read(ref)


@pytest.mark.parametrize("ref", ["../x.wav", "acme/../../etc.wav", "acme/x.mp3", "a b/x.wav"])
def test_references_cannot_escape_the_store(store, ref):
    with pytest.raises(ValueError):
        store.read(ref)


def test_keyring_validation_and_the_local_development_key(tmp_path):
    with pytest.raises(ValueError):
        Keyring.parse("nokey")
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.parse(f"k:{base64.b64encode(b'short').decode()}")
    first = Keyring.local(tmp_path / "k")
    assert Keyring.local(tmp_path / "k").keys == first.keys  # generated once, then reused
    assert oct((tmp_path / "k" / "master.key").stat().st_mode & 0o777) == "0o600"
