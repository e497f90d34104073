"""`shiftrec recommend`, `why`, `profile` and `delete-user`: answers about one user from the command line.

These open the memory directly: stop `shiftrec serve` first when it uses the embedded Chroma (two
processes must not write one Chroma folder), or point both at a Chroma server.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from serving.runtime import cli_settings, open_service

if TYPE_CHECKING:
    from serving.api_models import ProfileView

UserArgument = Annotated[str, typer.Argument(help="User id, e.g. a MovieLens user such as 196.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
LlmOption = Annotated[
    bool, typer.Option("--llm/--no-llm", help="Use the LLM (starts the embedded vLLM, ~30 s); --no-llm: templates.")
]


def recommend(
    user: UserArgument,
    count: Annotated[int, typer.Option(min=1, max=20, help="Items to recommend.")] = 5,
    exclude_topic: Annotated[list[str] | None, typer.Option(help="Topic never to show (repeatable): Horror.")] = None,
    prefer_topic: Annotated[list[str] | None, typer.Option(help="Topic to rank higher (repeatable).")] = None,
    include_seen: Annotated[bool, typer.Option(help="Allow items the user already interacted with.")] = False,
    llm: LlmOption = True,
    as_json: JsonOption = False,
) -> None:
    """Recommend items to a user, each with its reason and the user's own events behind it."""
    from serving.api_models import RecommendationRequest, UnknownTopicError

    request = RecommendationRequest(count=count, exclude_topics=exclude_topic or [], prefer_topics=prefer_topic or [],
                                    include_seen=include_seen)
    with ExitStack() as stack:
        service = open_service(stack, cli_settings(), with_llm=llm, updates=False)  # one-shot: reads, trains nothing
        try:
            refinement = request.refinement(service.topic_ids())
        except UnknownTopicError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from error
        record = service.recommend(user, count, refinement, include_seen)
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
        return
    degraded = f" (degraded: {'; '.join(record.degraded_reasons)})" if record.degraded else ""
    typer.echo(f"recommendation {record.id}{degraded}")
    for entry in record.items:
        reason = entry.explanation.reason if entry.explanation else ""
        evidence = "; ".join(ref.text for ref in entry.explanation.evidence) if entry.explanation else ""
        suffix = f" (you {evidence})" if evidence else ""
        typer.echo(f"{entry.rank}. {entry.title} [{entry.item_id}] - {reason}{suffix}")


def why(
    user: UserArgument,
    record_id: Annotated[str, typer.Argument(help="Recommendation id, as printed by `recommend`.")],
    item_id: Annotated[str, typer.Argument(help="Id of one of its items.")],
    phrase: Annotated[bool, typer.Option(help="Let the LLM phrase the stored facts (starts vLLM).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Why an item was recommended, answered from the stored recommendation record."""
    from agent.explain.records import UnknownRecordError
    from agent.explain.why import UnknownRecommendedItemError

    with ExitStack() as stack:
        service = open_service(stack, cli_settings(), with_llm=phrase, updates=False)
        try:
            answer = service.why(user, record_id, item_id, phrase)
        except (UnknownRecordError, UnknownRecommendedItemError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from error
    typer.echo(answer.model_dump_json(indent=2) if as_json else answer.text)


def profile(user: UserArgument, llm: LlmOption = True, as_json: JsonOption = False) -> None:
    """What the user likes now, where their taste is heading, and how their topics moved over time."""
    from memory.service_models import UnknownUserError
    from serving.api_models import ProfileView

    with ExitStack() as stack:
        service = open_service(stack, cli_settings(), with_llm=llm, updates=False)  # one-shot: reads, trains nothing
        try:
            view = ProfileView.of(service.profile(user), service.memory.digest(user).long_term)
        except UnknownUserError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from error
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
        return
    typer.echo(view.text + (" (trend baseline: the LLM was not used)" if view.details.degraded else ""))
    for line in forecast_lines(view):
        typer.echo(line)
    for topic in view.trajectory[:8]:
        path = " ".join(f"{point.strength:.1f}" for point in topic.points[-8:])
        typer.echo(f"  {topic.label:<14} strength {topic.strength:6.2f}  trend {topic.trend:+.2f}  recent: {path}")


def forecast_lines(view: ProfileView) -> list[str]:
    """The forecast sentence, the expected shares at the claims' level, and the track record."""
    from agent.forecast.shown import NODES_TABULATED, claim_level

    lines = [f"forecast: {view.predicted_shift.rationale}"]
    level = claim_level(view.forecast) if view.forecast is not None else None
    if level is not None and level.nodes:
        lines.append(f"  {'interest':<24} {'now':>5}  expected {view.forecast.horizon_text}")
        lines += [f"  {node.label[:24]:<24} {node.share_now:>5.0%}  {node.share_expected:.0%}"
                  for node in level.nodes[:NODES_TABULATED]]
    if view.track_record is not None:
        lines.append(view.track_record.text)
    return lines


def delete_user(
    user: UserArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete everything stored about a user: events, interests, sessions, recommendation records, forecasts."""
    from memory.service import InterestMemory

    if not yes:
        typer.confirm(f"delete every trace of user {user!r}?", abort=True)
    with InterestMemory.open(cli_settings().memory_config) as memory:
        report = memory.delete_user(user)
    typer.echo(f"deleted {user!r}: {report.events_removed} events, {report.state_rows_removed} interest rows, "
               f"{report.records_removed} stored records (lists, forecasts shown, chat sessions, cached profiles)")


def register_answers(app: typer.Typer) -> None:
    for name, command in (("recommend", recommend), ("why", why), ("profile", profile), ("delete-user", delete_user)):
        app.command(name)(command)
