from typer.testing import CliRunner

from serving.cli import app


def test_shiftrec_bench_reaches_every_benchmark_through_the_lazy_command():
    runner = CliRunner()
    listing = runner.invoke(app, ["bench", "--help"])
    assert listing.exit_code == 0
    for command in ("llm", "memory", "agent", "serving", "reliability", "eval"):
        assert f" {command} " in listing.output
    protocols = runner.invoke(app, ["bench", "eval", "--help"])
    assert protocols.exit_code == 0 and " p1 " in protocols.output and " shift " in protocols.output
    options = runner.invoke(app, ["bench", "serving", "--help"])
    assert options.exit_code == 0 and "--rounds" in options.output


def test_an_unknown_benchmark_is_a_usage_error_that_names_it():
    result = CliRunner().invoke(app, ["bench", "nope"])
    assert result.exit_code == 2 and "No such command 'nope'" in result.output
