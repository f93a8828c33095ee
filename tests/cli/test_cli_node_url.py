"""A wrong --node URL (or AGORA_NODE) is one clear line and exit 1, before any request is made."""

from __future__ import annotations

import pytest
from cli_testkit import run_cli

from cli.errors import CliError
from cli.node_url import check_node_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("localhost:26657", "no scheme: write http://localhost:26657"),
        ("notaurl", "no scheme"),
        ("http://127.0.0.1:99999", "port must be a number in 1..65535"),
        ("http://127.0.0.1:-1", "port must be a number in 1..65535"),
        ("http://127.0.0.1:0", "port must be in 1..65535"),
        ("ftp://127.0.0.1:21", "scheme must be http or https"),
        ("http://:80", "no host"),
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:26657?x=1", "plain base URL"),
        ("", "--node is empty"),
    ],
)
def test_a_wrong_node_url_is_one_line_and_exit_1(url: str, expected: str) -> None:
    ways: list[tuple[list[str], dict[str, str | None] | None]] = [(["--node", url, "chain", "status"], None)]
    if url:  # an empty AGORA_NODE means "not set"
        ways.append((["chain", "status"], {"AGORA_NODE": url}))
    for args, env in ways:
        result = run_cli(args, env=env)
        assert result.exit_code == 1, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: ")
        assert expected in result.stderr


def test_a_wrong_url_on_a_sub_command_is_refused_too() -> None:
    result = run_cli(["chain", "block", "1", "--node", "localhost:1"])
    assert result.exit_code == 1 and "no scheme" in result.stderr and result.stderr.count("\n") == 1


def test_good_urls_pass_through_without_the_trailing_slash() -> None:
    assert check_node_url("http://127.0.0.1:26657/") == "http://127.0.0.1:26657"
    assert check_node_url("https://node.example:443") == "https://node.example:443"
    assert check_node_url("http://[::1]:8080") == "http://[::1]:8080"
    with pytest.raises(CliError):
        check_node_url("http://x" + "y" * 3000)
