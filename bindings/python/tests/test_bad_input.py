"""Hostile and careless input: wrong types, lone surrogates, huge and deeply nested text."""

from __future__ import annotations

import re

import pytest

import runbeam


@pytest.mark.parametrize("value", [None, 5, b"runbeam.id.x", ["runbeam.id.x"], bytearray(b"x")])
def test_parse_rejects_non_str_with_type_error(value):
    with pytest.raises(TypeError, match="must be str"):
        runbeam.Reference.parse(value)
    with pytest.raises(TypeError):
        runbeam.Reference(value)


def test_parse_rejects_missing_and_extra_arguments():
    with pytest.raises(TypeError):
        runbeam.Reference.parse()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        runbeam.Reference.parse("a", "b")  # type: ignore[call-arg]


def test_str_subclass_is_accepted():
    class Text(str):
        pass

    assert str(runbeam.Reference(Text("runbeam.id.x"))) == "runbeam.id.x"


@pytest.mark.parametrize("text", ["runbeam.id.\udc80", "\ud800", "a\udfff.id.x"])
def test_lone_surrogates_are_invalid_arguments(text: str):
    with pytest.raises(runbeam.InvalidArgumentError, match="lone surrogate") as info:
        runbeam.Reference.parse(text)
    assert isinstance(info.value, ValueError)
    assert info.value.kind == "InvalidArgument"
    # The original UnicodeEncodeError is kept as the cause, for its position.
    assert isinstance(info.value.__cause__, UnicodeEncodeError)


def test_lone_surrogates_in_mesh_context_argument():
    config = runbeam.MeshConfig.from_toml("")
    with pytest.raises(runbeam.InvalidArgumentError):
        config.in_mesh_context("x\udc80")


def test_one_megabyte_reference_gives_a_short_error():
    text = "runbeam.id." + "a" * (1 << 20)
    with pytest.raises(runbeam.InvalidReferenceError) as info:
        runbeam.Reference.parse(text)
    message = str(info.value)
    assert len(message) < 1000
    assert message.startswith("invalid reference 'runbeam.id.aaa")


def test_one_megabyte_of_non_ascii_gives_a_short_error():
    with pytest.raises(runbeam.InvalidReferenceError) as info:
        runbeam.Reference.parse("é" * (1 << 20))
    assert len(str(info.value)) < 1000


def test_nul_and_control_characters_are_escaped_in_messages():
    with pytest.raises(runbeam.InvalidReferenceError) as info:
        runbeam.Reference.parse("runbeam.id.a\x00\x1b[31m")
    message = str(info.value)
    assert "\x00" not in message and "\x1b" not in message


def test_from_toml_rejects_non_str():
    with pytest.raises(TypeError, match="must be str"):
        runbeam.MeshConfig.from_toml(b"[provider.x]")
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.MeshConfig.from_toml("a = '\udc80'")


def test_deeply_nested_toml_is_a_config_error():
    text = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_toml(text)
    assert "nested more than" in str(info.value)
    assert len(str(info.value)) < 2000
    assert [p.kind for p in info.value.problems] == ["Config"]


def test_deeply_nested_inline_tables_are_a_config_error():
    text = "a = " + "{b = " * 10_000 + "1" + "}" * 10_000 + "\n"
    with pytest.raises(runbeam.ConfigError, match="nested more than"):
        runbeam.MeshConfig.from_toml(text)


def test_oversized_toml_is_a_config_error():
    text = "# " + "x" * (5 << 20) + "\n"
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_toml(text)
    assert "bytes long" in str(info.value)
    assert len(str(info.value)) < 1000


def test_toml_syntax_error_has_line_and_column():
    with pytest.raises(runbeam.ConfigError, match="line 2") as info:
        runbeam.MeshConfig.from_toml("[mesh.m]\ntype = = \n")
    assert info.value.problems and info.value.problems[0].kind == "Config"


def test_many_problems_are_all_listed():
    text = "".join(
        f"[mesh.m{i}]\ntype = 'http'\nprovider = 'local'\ntypo{i} = 1\n" for i in range(200)
    )
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_toml(text)
    assert len(info.value.problems) == 200
    # The message lists the first ones and counts the rest, instead of growing without bound.
    assert "more" in str(info.value)


def test_binary_garbage_file_is_a_config_error(tmp_path):
    path = tmp_path / "garbage.toml"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(runbeam.ConfigError, match="not valid UTF-8"):
        runbeam.MeshConfig.from_file(path)


def test_oversized_file_is_a_config_error(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * ((4 << 20) + 1))
    with pytest.raises(runbeam.ConfigError, match="larger than"):
        runbeam.MeshConfig.from_file(path)


def test_directory_is_a_config_error(tmp_path):
    with pytest.raises(runbeam.ConfigError, match=re.escape(str(tmp_path))):
        runbeam.MeshConfig.from_file(tmp_path)


@pytest.mark.parametrize("value", [None, 5, object()])
def test_from_file_rejects_non_paths(value):
    with pytest.raises(TypeError):
        runbeam.MeshConfig.from_file(value)


@pytest.mark.parametrize("value", ["gateway.toml", b"gateway.toml", None, 5])
def test_from_files_rejects_a_single_path_or_non_iterable(value, tmp_path):
    import pathlib

    with pytest.raises(TypeError):
        runbeam.MeshConfig.from_files(value)
    with pytest.raises(TypeError, match="single path"):
        runbeam.MeshConfig.from_files(pathlib.Path(tmp_path))


@pytest.mark.parametrize("value", [None, 5, b"runbeam.id.x", object()])
def test_mesh_context_rejects_other_types(value):
    config = runbeam.MeshConfig.from_toml("")
    with pytest.raises(TypeError, match="Reference or str"):
        config.in_mesh_context(value)
    with pytest.raises(TypeError, match="Reference or str"):
        config.check_mesh_context(value)
