"""Request and response models of the 001 availability, channel and analytics routes, and their translation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field

from chalicelib.core.bodies import Body
from chalicelib.core.ids import Id, utcnow
from chalicelib.core.models import ZERO, Model
from chalicelib.core.values import Number, Text
from chalicelib.features.availability.model import Channel, Mode
from chalicelib.features.availability.rules import ChannelFigure
from chalicelib.features.availability.service import Place
from chalicelib.http.errors import bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CHECK_LINES = 100


class In(Body):
    """Request bodies: an unknown field is a 400 naming it (a typo never passes silently)."""


class Query(Model):
    """Query strings: parameters the route does not know are ignored (a cache-buster never fails a read)."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    page: int = Field(1, ge=1, description="Page number, from 1")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size (default 50, max {MAX_LIMIT})")


def paged(data: list[Any], total: int, query: PageQuery) -> dict[str, Any]:
    pages = (total + query.limit - 1) // query.limit
    return {"data": data, "pagination": {"page": query.page, "limit": query.limit, "total": total, "totalPages": pages}}


# -- channels ----------------------------------------------------------------------------


class ChannelIn(In):
    code: Text = Field(min_length=1, max_length=50, description="Short code, unique per company in any case")
    name: Text = Field(min_length=1, max_length=200)


def channel_out(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.channel_id,
        "code": channel.code,
        "name": channel.name,
        "version": channel.version,
        "createdAt": channel.created_at,
        "updatedAt": channel.updated_at,
    }


# -- availability records ------------------------------------------------------------------


class ChannelRuleIn(In):
    channelId: str = Field(min_length=1, max_length=100)
    mode: Mode = Field(description="all: the whole available quantity; percent: value % of it; fixed: at most value")
    value: Number | None = Field(None, description="percent (0 to 100) or fixed quantity; none for mode all")
    buffer: Number = Field(ZERO, description="Kept back from the channel's share; ATP never goes below 0")


class AllocationIn(In):
    locationId: str = Field(min_length=1, max_length=100)
    channels: list[ChannelRuleIn] = Field(max_length=100)


class AvailabilityQuery(Query):
    locationId: Id | None = None


class AvailabilityListQuery(PageQuery):
    locationId: Id | None = None
    productMasterId: Id | None = None


def figure_out(figure: ChannelFigure, names: dict[str, Channel] | None = None) -> dict[str, Any]:
    rule = figure.rule
    out: dict[str, Any] = {
        "channelId": figure.channel_id,
        "mode": rule.mode.value if rule else None,
        "value": rule.value if rule else None,
        "buffer": rule.buffer if rule else ZERO,
        "share": figure.share,
        "atp": figure.atp,
        "allocated": rule is not None,
        "default": figure.default,
    }
    if names is not None:
        channel = names.get(figure.channel_id)
        out["name"] = channel.name if channel else None
    return out


def place_out(place: Place, names: dict[str, Channel] | None = None) -> dict[str, Any]:
    product = place.product
    allocation = place.allocation
    return {
        "productMasterId": place.product_id,
        "productName": product.name if product else None,
        "sku": product.sku if product else None,
        "locationId": place.location_id,
        "onHand": place.figures.on_hand,
        "reserved": place.figures.reserved,
        "held": place.figures.held,
        "available": place.figures.available,
        "hasRecord": allocation is not None,
        "channels": [figure_out(f, names) for f in place.channels],
        "version": allocation.version if allocation else None,
        "updatedAt": allocation.updated_at if allocation else None,
    }


class CheckLineIn(In):
    productMasterId: str = Field(min_length=1, max_length=100)
    quantity: Number = Field(gt=0)
    locationId: str | None = Field(None, min_length=1, max_length=100)
    channelId: str | None = Field(None, min_length=1, max_length=100)


class CheckIn(In):
    lines: list[CheckLineIn] = Field(min_length=1, max_length=MAX_CHECK_LINES)


# -- channel x location ------------------------------------------------------------------------


class MatrixQuery(PageQuery):
    locationId: str = Field(min_length=1, max_length=100, description="Location ID (required)")
    search: str | None = Field(None, max_length=200, description="Search by product name or SKU")
    channels: str | None = Field(None, max_length=2000, description="Comma-separated channel IDs to filter")

    def channel_ids(self) -> list[str] | None:
        if self.channels is None:
            return None
        ids = [c.strip() for c in self.channels.split(",") if c.strip()]
        return ids or None


class DrilldownQuery(Query):
    locationId: str = Field(min_length=1, max_length=100)
    productMasterId: str = Field(min_length=1, max_length=100)


class SummaryQuery(Query):
    locationId: Id | None = None


# -- analytics -------------------------------------------------------------------------------------


class AnalyticsQuery(Query):
    locationId: Id | None = None
    fromDate: str | None = Field(None, max_length=40, description="Start (ISO date or date-time); default 30 days back")
    toDate: str | None = Field(None, max_length=40, description="End (ISO date: the whole day; date-time); default now")
    categoryId: Id | None = None


DEFAULT_PERIOD_DAYS = 30


def period(query: AnalyticsQuery) -> tuple[datetime, datetime]:
    """The period asked for, in UTC; a bad date or a start after the end is a 400 naming the field."""

    def parse(text: str, field: str, end_of_day: bool) -> datetime:
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime.combine(day, time.max if end_of_day else time.min)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(f"{field} must be an ISO date or date-time", field=field) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    end = parse(query.toDate, "toDate", True) if query.toDate else utcnow()
    start = parse(query.fromDate, "fromDate", False) if query.fromDate else end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if start > end:
        raise bad_request("fromDate must not be after toDate", field="fromDate")
    return start, end


# -- response models (OpenAPI) -----------------------------------------------------------------------


class PageInfo(Model):
    page: int
    limit: int
    total: int
    totalPages: int


class ChannelOut(Model):
    id: str
    code: str
    name: str
    version: int
    createdAt: datetime
    updatedAt: datetime


class ChannelPage(Model):
    data: list[ChannelOut]
    pagination: PageInfo


class ChannelFigureOut(Model):
    channelId: str
    name: str | None = Field(None, description="The channel's name (drilldown)")
    mode: Mode | None = Field(description="null: the record does not name this channel (it gets 0)")
    value: Decimal | None
    buffer: Decimal
    share: Decimal = Field(description="The allocated share of available, before the buffer")
    atp: Decimal = Field(description="max(0, share - buffer)")
    allocated: bool = Field(description="The channel has a rule at this place")
    default: bool = Field(description="No availability record here: every channel takes all")


class AvailabilityOut(Model):
    productMasterId: str
    productName: str | None
    sku: str | None
    locationId: str
    onHand: Decimal
    reserved: Decimal
    held: Decimal
    available: Decimal
    hasRecord: bool
    channels: list[ChannelFigureOut]
    version: int | None
    updatedAt: datetime | None


class AvailabilityPage(Model):
    data: list[AvailabilityOut]
    pagination: PageInfo


class ProductAvailabilityOut(Model):
    productMasterId: str
    productName: str
    sku: str | None
    locations: list[AvailabilityOut]


class CheckedLineOut(Model):
    productMasterId: str
    requested: Decimal
    available: Decimal
    shortfall: Decimal
    locationId: str | None = None
    channelId: str | None = None


class CheckOut(Model):
    available: bool = Field(description="True when no line falls short")
    lines: list[CheckedLineOut]


class MatrixChannelOut(Model):
    channelId: str
    code: str
    name: str


class MatrixRowOut(Model):
    productMasterId: str
    productName: str
    sku: str | None
    onHand: Decimal
    available: Decimal
    channels: dict[str, Decimal] = Field(description="ATP by channel id")


class MatrixOut(Model):
    locationId: str
    locationName: str
    channels: list[MatrixChannelOut]
    data: list[MatrixRowOut]
    pagination: PageInfo


class Totals(Model):
    onHand: Decimal
    reserved: Decimal
    held: Decimal
    available: Decimal


class DrillRecordOut(Model):
    id: str
    binId: str | None
    lotId: str | None
    owner: str
    counted: bool = Field(description="The company's own, active stock: what ATP counts")
    onHand: Decimal
    reserved: Decimal
    held: Decimal
    available: Decimal


class DrillHoldOut(Model):
    id: str
    stockId: str
    quantity: Decimal
    reason: str


class DrillReservationOut(Model):
    id: str
    stockId: str
    quantity: Decimal
    reference: dict[str, str]
    expiresAt: datetime | None


class DrilldownOut(Model):
    productMasterId: str
    productName: str
    sku: str | None
    locationId: str
    locationName: str
    totals: Totals
    records: list[DrillRecordOut]
    holds: list[DrillHoldOut]
    reservations: list[DrillReservationOut]
    hasRecord: bool
    channels: list[ChannelFigureOut]


class ChannelTotalOut(Model):
    channelId: str
    code: str
    name: str
    atp: Decimal
    productCount: int


class SummaryOut(Model):
    data: list[ChannelTotalOut]


class PeriodOut(Model):
    fromDate: datetime
    toDate: datetime


class ReasonOut(Model):
    count: int
    increase: Decimal
    decrease: Decimal
    net: Decimal


class MoverOut(Model):
    productMasterId: str
    productName: str | None
    sku: str | None
    received: Decimal
    issued: Decimal
    movements: int


class AnalyticsOut(Model):
    period: PeriodOut
    locationId: str | None
    categoryId: str | None
    onHand: Decimal
    value: Decimal
    skuCount: int
    received: Decimal
    issued: Decimal
    adjustmentsByReason: dict[str, ReasonOut]
    turnover: Decimal | None
    stockouts: int
    topMovers: list[MoverOut]
    movements: int = Field(description="Ledger lines in the period and scope")
