"""Pre- and post-exec rules: commands run in application pods around a backup's snapshot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.schemas import Labels, ListOf, Name, ObjectRead, Uid
from lifeboat.catalog.models import Rule
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.rules import RuleSet

router = APIRouter(prefix="/rules", tags=["rules"])

CreateRule = Annotated[AuthzContext, Depends(Authorize(Kind.RULES, Action.CREATE))]
ViewRule = Annotated[AuthzContext, Depends(Authorize(Kind.RULES, Action.VIEW))]
EditRule = Annotated[AuthzContext, Depends(Authorize(Kind.RULES, Action.EDIT))]
DeleteRule = Annotated[AuthzContext, Depends(Authorize(Kind.RULES, Action.DELETE))]


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    labels: Labels = Field(default_factory=dict)
    rules: RuleSet


class RuleUpdate(RuleCreate):
    """A whole rule: name, labels and rule items are all replaced."""


class RuleRead(ObjectRead):
    rules: RuleSet


def _apply(rule: Rule, body: RuleCreate) -> Rule:
    rule.name = body.name
    rule.labels = body.labels
    rule.rules = [item.model_dump(mode="json") for item in body.rules]
    return rule


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_rule(body: RuleCreate, ctx: CreateRule) -> RuleRead:
    """Create a rule owned by the caller; its name must be new among the caller's rules."""
    rule = _apply(Rule(owner_id=ctx.caller.subject), body)
    return RuleRead.model_validate(await save_unique(ctx, rule))


@router.get("")
async def list_rules(ctx: ViewRule, page: PageDep) -> ListOf[RuleRead]:
    """The rules the caller owns or that are shared with them, by name."""
    rows, next_page = await list_page(ctx, Rule, page)
    items = [RuleRead.model_validate(r) for r in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_rule(uid: Uid, ctx: ViewRule) -> RuleRead:
    return RuleRead.model_validate(await ctx.load(Rule, uid))


@router.put("/{uid}")
async def replace_rule(uid: Uid, body: RuleUpdate, ctx: EditRule) -> RuleRead:
    """Replace the rule as a whole: name, labels and rule items."""
    rule = _apply(await ctx.load(Rule, uid), body)
    return RuleRead.model_validate(await save_unique(ctx, rule))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(uid: Uid, ctx: DeleteRule) -> None:
    await delete_object(ctx, await ctx.load(Rule, uid))
