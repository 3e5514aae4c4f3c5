import pytest

import headwater as hw
from headwater.definitions.loader import find_location, load_definitions


def test_loads_from_a_module_on_the_path(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "defs_mod.py").write_text("import headwater as hw\n@hw.asset\ndef a():\n    return 1\n"
                                     "defs = hw.Definitions(assets=[a])\n")
    location = find_location(module="mypkg.defs_mod", cwd=tmp_path)
    defs = load_definitions(location)
    assert [str(k) for k in defs.graph.keys] == ["a"]


def test_pyproject_tool_headwater_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.headwater]\nfile = "src/pipe.py"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pipe.py").write_text("import headwater as hw\n@hw.asset\ndef b():\n    return 1\n")
    deeper = tmp_path / "src" / "deeper"
    deeper.mkdir()
    location = find_location(cwd=deeper)
    assert location.file == str(tmp_path / "src" / "pipe.py")
    defs = load_definitions(location)  # no Definitions object: the module's assets are collected
    assert [str(k) for k in defs.graph.keys] == ["b"]


def test_several_definitions_need_an_attribute(tmp_path):
    path = tmp_path / "two.py"
    path.write_text("import headwater as hw\none = hw.Definitions()\ntwo = hw.Definitions()\n")
    with pytest.raises(hw.LoadError, match="several Definitions objects"):
        load_definitions(find_location(file=str(path)))
    assert isinstance(load_definitions(find_location(file=str(path), attribute="two")), hw.Definitions)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(hw.LoadError, match="no such file"):
        load_definitions(find_location(file=str(tmp_path / "nope.py")))


def test_an_integration_table_alone_is_a_location_that_names_its_pyproject(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.headwater.dbt]\nproject_dir = "nowhere"\n')
    location = find_location(cwd=tmp_path)
    assert (location.file, location.module, location.pyproject) == (None, None, str(pyproject))
    with pytest.raises(hw.DefinitionError, match=r"\[tool.headwater.dbt\] in .*pyproject.toml: .*nowhere is not a "
                                                  r"dbt project: it has no dbt_project.yml"):
        load_definitions(location)
    # a project without integration tables keeps a plain location
    pyproject.write_text('[tool.headwater]\nfile = "pipe.py"\n')
    assert find_location(cwd=tmp_path).pyproject is None


def test_an_unknown_tool_headwater_key_is_named(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.headwater]\nfiel = "pipe.py"\n')
    with pytest.raises(hw.HeadwaterError, match=r"unknown key\(s\) fiel \(known: file, module, attribute, dask, dbt, step_timeout, retention, locations\)"):
        find_location(cwd=tmp_path)


def test_an_edit_that_keeps_the_size_in_the_same_second_is_loaded(tmp_path, monkeypatch):
    """Python's .pyc check is size + whole-second mtime: such an edit would load the old code."""
    import importlib.util
    import os
    import sys

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "pipe.py"
    path.write_text("import headwater as hw\n@hw.asset(code_version='1')\ndef a():\n    return 1\n")
    location = find_location(str(path), None, None)
    assert load_definitions(location).graph.spec(hw.AssetKey(("a",))).code_version == "1"
    cached = importlib.util.cache_from_source(str(path))
    assert os.path.exists(cached)
    path.write_text(path.read_text().replace("code_version='1'", "code_version='2'"))  # same size
    second = int(os.stat(cached).st_mtime)
    os.utime(path, (second, second))  # saved in the second the .pyc was written
    assert load_definitions(location).graph.spec(hw.AssetKey(("a",))).code_version == "2"
