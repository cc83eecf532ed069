from anl_stack.core.errors import AnlError, ErrorRecord, ExitCode


def test_record_formats_file_line_key_and_expected() -> None:
    record = ErrorRecord("not a port", file="hosts.yml", line=4, key="ansible_port", expected="1-65535")
    assert record.format() == "hosts.yml:4: ansible_port: not a port (expected: 1-65535)"


def test_error_defaults_to_refused() -> None:
    error = AnlError("bad", file="x.yml", key="k")
    assert error.exit_code == ExitCode.REFUSED == 2
    assert error.records[0].to_dict() == {
        "message": "bad", "file": "x.yml", "line": None, "key": "k", "expected": None,
    }
