"""An in-memory unit of work that keeps the promises of ``minicommerce.uow`` and of the
repository Protocols, for unit tests of the services (``Shop(uow=MemoryStore())``).

What the services rely on, it does: a write unit of work works on a copy of the state and
only :meth:`MemoryUnitOfWork.commit` publishes it (leaving without commit discards every
change); write units run one at a time, as SQLite's ``BEGIN IMMEDIATE`` makes them (so what
``read`` saw still holds in ``add``, which never answers ``Stale``);
archived products are invisible; a duplicate SKU or email raises like storage does.
"""

from __future__ import annotations

import builtins
import copy
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from minicommerce.accounts.models import RefreshTokenRecord, SessionCheck, SignedOut, User
from minicommerce.carts.models import StoredLine
from minicommerce.carts.repository import refuse_session
from minicommerce.catalog.models import (
    LowStockProduct,
    NewProduct,
    Product,
    ProductQuery,
    ProductSort,
)
from minicommerce.catalog.repository import NewImage, ShownProduct, StoredImage
from minicommerce.errors import EmailTaken, SkuTaken
from minicommerce.orders.models import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    answer_of,
    order_from_answer,
)
from minicommerce.orders.placement import OrderDraft, StockRow
from minicommerce.orders.repository import Answered, DailyTotal, NewOrder, Seen


@dataclass
class State:
    """Every table, as plain dicts of rows."""

    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[int, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    product_images: dict[int, StoredImage] = field(default_factory=dict)
    login_failures: list[tuple[str, datetime]] = field(default_factory=list)
    cart_items: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    idempotency_keys: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    last_id: dict[str, int] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        self.last_id[table] = self.last_id.get(table, 0) + 1
        return self.last_id[table]


class MemoryStore:
    """The "database": a unit-of-work factory (``uow.UnitOfWorkFactory``)."""

    def __init__(self, currency: str = "USD") -> None:
        self.state = State()
        self.currency = currency
        self.writer = threading.Lock()

    def __call__(
        self, *, write: bool, may_lag: bool = False, user_id: int | None = None
    ) -> MemoryUnitOfWork:
        # One copy of the data: nothing ever lags, so may_lag and user_id change nothing.
        return MemoryUnitOfWork(self, write=write)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore, *, write: bool) -> None:
        self._store = store
        self._write = write

    def __enter__(self) -> Self:
        if self._write:
            self._store.writer.acquire()
            self._state = copy.deepcopy(self._store.state)
        else:
            self._state = self._store.state  # reads see what is committed
        currency = self._store.currency
        self.products = MemoryProducts(self._state, currency)
        self.product_images = MemoryProductImages(self._state)
        self.users = MemoryUsers(self._state)
        self.refresh_tokens = MemoryRefreshTokens(self._state)
        self.sessions = MemorySessions(self._state)
        self.login_failures = MemoryLoginFailures(self._state)
        self.carts = MemoryCarts(self._state)
        self.orders = MemoryOrders(self._state)
        return self

    def commit(self) -> None:
        if not self._write:
            raise RuntimeError("a read unit of work has nothing to commit")
        self._store.state = self._state
        self._state = copy.deepcopy(self._state)  # later changes need another commit

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._write:
            self._store.writer.release()


def _live(row: Mapping[str, Any]) -> bool:
    return row["deleted_at"] is None


class MemoryProducts:
    def __init__(self, state: State, currency: str) -> None:
        self._state = state
        self._currency = currency

    def _product(self, row: Mapping[str, Any]) -> Product:
        return Product(
            id=row["id"],
            sku=row["sku"],
            name=row["name"],
            description=row["description"],
            price=row["price"],
            currency=self._currency,
            stock_quantity=row["stock_quantity"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=row["version"],
            in_stock=row["stock_quantity"] > 0,
        )

    def _check_sku(self, sku: str | None, product_id: int | None) -> None:
        if sku is None:
            return
        for row in self._state.products.values():
            if _live(row) and row["sku"] == sku and row["id"] != product_id:
                raise SkuTaken(sku)

    def add(self, new: NewProduct, now: datetime) -> Product:
        self._check_sku(new.sku, None)
        product_id = self._state.next_id("products")
        row = {
            "id": product_id,
            "sku": new.sku,
            "name": new.name,
            "description": new.description,
            "price": new.price,
            "stock_quantity": new.stock_quantity,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        self._state.products[product_id] = row
        return self._product(row)

    def _row(self, product_id: int) -> dict[str, Any] | None:
        row = self._state.products.get(product_id)
        return row if row is not None and _live(row) else None

    def get(self, product_id: int) -> Product | None:
        row = self._row(product_id)
        return None if row is None else self._product(row)

    def _shown(self, row: Mapping[str, Any]) -> ShownProduct:
        return ShownProduct(self._product(row), _images_of(self._state, row["id"]))

    def get_shown(self, product_id: int) -> ShownProduct | None:
        row = self._row(product_id)
        return None if row is None else self._shown(row)

    def update(
        self,
        product_id: int,
        values: Mapping[str, Any],
        now: datetime,
        versions: Collection[int] | None = None,
    ) -> Product | None:
        row = self._row(product_id)
        if row is None or (versions is not None and row["version"] not in versions):
            return None
        if "sku" in values:
            self._check_sku(values["sku"], product_id)
        row.update(values, version=row["version"] + 1, updated_at=now)
        return self._product(row)

    def archive(self, product_id: int, now: datetime, versions: Collection[int] | None) -> bool:
        row = self._row(product_id)
        if row is None or (versions is not None and row["version"] not in versions):
            return False
        row.update(deleted_at=now, updated_at=now, version=row["version"] + 1)
        return True

    def list(
        self, query: ProductQuery, after: Sequence[Any] | None, limit: int
    ) -> list[ShownProduct]:
        rows = [row for row in self._state.products.values() if _live(row)]
        if query.q is not None:
            term = query.q.lower()
            rows = [
                r
                for r in rows
                if term in r["name"].lower()
                or term in r["description"].lower()
                or term in (r["sku"] or "").lower()
            ]
        if query.min_price is not None:
            rows = [r for r in rows if r["price"] >= query.min_price]
        if query.max_price is not None:
            rows = [r for r in rows if r["price"] <= query.max_price]
        if query.in_stock is not None:
            rows = [r for r in rows if (r["stock_quantity"] > 0) is query.in_stock]
        key = _SORT_KEYS[query.sort]
        descending = query.sort in (ProductSort.NEWEST, ProductSort.PRICE_DESC)
        rows.sort(key=key, reverse=descending)
        if after is not None:
            bound = tuple(after)
            rows = [r for r in rows if (key(r) < bound if descending else key(r) > bound)]
        return [self._shown(row) for row in rows[:limit]]

    def count(self) -> int:
        return sum(1 for row in self._state.products.values() if _live(row))

    def low_stock(self, threshold: int, limit: int) -> builtins.list[LowStockProduct]:
        rows = sorted(
            (r for r in self._state.products.values() if _live(r)),
            key=lambda r: (r["stock_quantity"], r["id"]),
        )
        return [
            LowStockProduct(
                id=r["id"], sku=r["sku"], name=r["name"], stock_quantity=r["stock_quantity"]
            )
            for r in rows
            if r["stock_quantity"] <= threshold
        ][:limit]


def _images_of(state: State, product_id: int) -> list[StoredImage]:
    """A product's images, in their positions."""
    images = state.product_images.values()
    return sorted((i for i in images if i.product_id == product_id), key=lambda i: i.position)


class MemoryProductImages:
    """Images in dense positions per product, like ``storage/images.py``."""

    def __init__(self, state: State) -> None:
        self._state = state

    def _of(self, product_id: int) -> list[StoredImage]:
        return _images_of(self._state, product_id)

    def get(self, product_id: int, image_id: int) -> StoredImage | None:
        image = self._state.product_images.get(image_id)
        return image if image is not None and image.product_id == product_id else None

    def add(self, product_id: int, image: NewImage, now: datetime) -> StoredImage:
        stored = StoredImage(
            id=self._state.next_id("product_images"),
            product_id=product_id,
            position=len(self._of(product_id)),
            alt=image.alt,
            width=image.width,
            height=image.height,
            content_hash=image.content_hash,
            format=image.format,
            renditions=image.renditions,
        )
        self._state.product_images[stored.id] = stored
        return stored

    def set_alt(self, image_id: int, alt: str) -> None:
        image = self._state.product_images[image_id]
        self._state.product_images[image_id] = replace(image, alt=alt)

    def _renumber(self, ordered: list[StoredImage]) -> None:
        for position, image in enumerate(ordered):
            self._state.product_images[image.id] = replace(image, position=position)

    def move(self, image: StoredImage, position: int) -> None:
        ordered = [i for i in self._of(image.product_id) if i.id != image.id]
        ordered.insert(min(position, len(ordered)), image)
        self._renumber(ordered)

    def remove(self, image: StoredImage) -> None:
        del self._state.product_images[image.id]
        self._renumber(self._of(image.product_id))

    def hash_in_use(self, content_hash: str) -> bool:
        return any(i.content_hash == content_hash for i in self._state.product_images.values())


_SORT_KEYS: dict[ProductSort, Any] = {
    ProductSort.NEWEST: lambda r: (r["id"],),
    ProductSort.PRICE_ASC: lambda r: (r["price"], r["id"]),
    ProductSort.PRICE_DESC: lambda r: (r["price"], r["id"]),
    ProductSort.NAME: lambda r: (r["name"], r["id"]),
}

_USER_FIELDS = ("first_name", "last_name", "is_staff", "is_active", "password_hash", "last_login")


def _user(row: Mapping[str, Any]) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        is_staff=row["is_staff"],
        is_active=row["is_active"],
        created_at=row["created_at"],
        last_login=row["last_login"],
    )


class MemoryUsers:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(
        self,
        *,
        email: str,
        password_hash: str,
        first_name: str,
        last_name: str,
        is_staff: bool,
        now: datetime,
    ) -> User:
        if any(row["email"] == email for row in self._state.users.values()):
            raise EmailTaken()
        user_id = self._state.next_id("users")
        row = {
            "id": user_id,
            "email": email,
            "password_hash": password_hash,
            "first_name": first_name,
            "last_name": last_name,
            "is_staff": is_staff,
            "is_active": True,
            "created_at": now,
            "last_login": None,
        }
        self._state.users[user_id] = row
        return _user(row)

    def get(self, user_id: int) -> User | None:
        row = self._state.users.get(user_id)
        return None if row is None else _user(row)

    def get_by_email(self, email: str) -> User | None:
        for row in self._state.users.values():
            if row["email"] == email:
                return _user(row)
        return None

    def get_in_session(self, user_id: int, session_id: str, started_after: datetime) -> User | None:
        session = self._state.sessions.get(session_id)
        row = self._state.users.get(user_id)
        if (
            row is None
            or session is None
            or session["user_id"] != user_id
            or session["revoked_at"] is not None
            or session["created_at"] <= started_after
        ):
            return None
        return _user(row)

    def credentials(self, email: str) -> tuple[User, str] | None:
        for row in self._state.users.values():
            if row["email"] == email:
                return _user(row), row["password_hash"]
        return None

    def update(self, user_id: int, values: Mapping[str, Any]) -> User | None:
        unknown = set(values) - set(_USER_FIELDS)
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        row = self._state.users.get(user_id)
        if row is None:
            return None
        row.update(values)
        return _user(row)

    def list(self, q: str | None, after_id: int | None, limit: int) -> list[User]:
        rows = sorted(self._state.users.values(), key=lambda r: r["id"], reverse=True)
        if q is not None:
            term = q.lower()
            rows = [
                r
                for r in rows
                if any(term in r[name].lower() for name in ("email", "first_name", "last_name"))
            ]
        if after_id is not None:
            rows = [r for r in rows if r["id"] < after_id]
        return [_user(row) for row in rows[:limit]]


class MemoryRefreshTokens:
    def __init__(self, state: State) -> None:
        self._rows = state.refresh_tokens
        self._state = state

    def add(
        self, *, user_id: int, family_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        token_id = self._state.next_id("refresh_tokens")
        self._rows[token_id] = {
            "id": token_id,
            "user_id": user_id,
            "family_id": family_id,
            "token_hash": token_hash,
            "created_at": now,
            "expires_at": expires_at,
            "used_at": None,
            "revoked_at": None,
        }

    def find(self, token_hash: str) -> RefreshTokenRecord | None:
        for row in self._rows.values():
            if row["token_hash"] == token_hash:
                return RefreshTokenRecord(
                    id=row["id"],
                    user_id=row["user_id"],
                    family_id=row["family_id"],
                    expires_at=row["expires_at"],
                    used_at=row["used_at"],
                    revoked_at=row["revoked_at"],
                    session_started_at=self._state.sessions[row["family_id"]]["created_at"],
                )
        return None

    def use(self, token_id: int, now: datetime) -> bool:
        row = self._rows.get(token_id)
        if row is None or row["used_at"] is not None or row["revoked_at"] is not None:
            return False
        row["used_at"] = now
        return True

    def delete_expired(self, before: datetime) -> int:
        gone = [i for i, row in self._rows.items() if row["expires_at"] < before]
        for token_id in gone:
            del self._rows[token_id]
        return len(gone)


class MemorySessions:
    def __init__(self, state: State) -> None:
        self._state = state

    def start(self, *, session_id: str, user_id: int, now: datetime) -> None:
        self._state.sessions[session_id] = {
            "id": session_id,
            "user_id": user_id,
            "created_at": now,
            "revoked_at": None,
        }

    def _end(self, now: datetime, sessions: list[dict[str, Any]]) -> None:
        ended = set()
        for session in sessions:
            if session["revoked_at"] is None:
                session["revoked_at"] = now
            ended.add(session["id"])
        for row in self._state.refresh_tokens.values():
            if row["family_id"] in ended and row["revoked_at"] is None:
                row["revoked_at"] = now

    def end(self, session_id: str, now: datetime) -> None:
        session = self._state.sessions.get(session_id)
        self._end(now, [session] if session is not None else [])

    def end_all(self, user_id: int, now: datetime) -> None:
        self._end(now, [s for s in self._state.sessions.values() if s["user_id"] == user_id])


class MemoryLoginFailures:
    def __init__(self, state: State) -> None:
        self._state = state

    def lock(self, key: str) -> None:
        """Writers already run one at a time here (``MemoryStore.writer``)."""

    def recent(self, key: str, since: datetime) -> list[datetime]:
        return [at for k, at in self._state.login_failures if k == key and at >= since]

    def add(self, key: str, at: datetime) -> None:
        self._state.login_failures.append((key, at))

    def clear(self, key: str, before: datetime | None = None) -> None:
        self._state.login_failures = [
            (k, at)
            for k, at in self._state.login_failures
            if k != key or (before is not None and at >= before)
        ]


class MemoryCarts:
    checks_session = False

    def __init__(self, state: State) -> None:
        self._state = state

    def lines(
        self, user_id: int, *, session: SessionCheck | None = None
    ) -> list[StoredLine] | SignedOut:
        refuse_session(session)
        return self._lines(user_id)

    def _lines(self, user_id: int) -> list[StoredLine]:
        lines = []
        for (owner, product_id), line in sorted(
            self._state.cart_items.items(), key=lambda kv: (kv[1]["added_at"], kv[0][1])
        ):
            product = self._state.products.get(product_id)
            if owner != user_id or product is None or not _live(product):
                continue
            lines.append(
                StoredLine(
                    product_id=product_id,
                    sku=product["sku"],
                    name=product["name"],
                    unit_price=product["price"],
                    quantity=line["quantity"],
                    stock_quantity=product["stock_quantity"],
                )
            )
        return lines

    def put(
        self,
        user_id: int,
        product_id: int,
        quantity: int,
        now: datetime,
        max_lines: int,
        *,
        session: SessionCheck | None = None,
    ) -> list[StoredLine] | SignedOut | None:
        refuse_session(session)
        lines = self._lines(user_id)
        if len(lines) >= max_lines and all(line.product_id != product_id for line in lines):
            return None
        line = self._state.cart_items.get((user_id, product_id))
        if line is None:
            self._state.cart_items[user_id, product_id] = {
                "quantity": quantity,
                "added_at": now,
                "updated_at": now,
            }
        else:
            line.update(quantity=quantity, updated_at=now)
        return self._lines(user_id)

    def take_out(self, user_id: int, product_id: int) -> list[StoredLine]:
        self._state.cart_items.pop((user_id, product_id), None)
        return self._lines(user_id)

    def clear(self, user_id: int) -> None:
        for owner, product_id in list(self._state.cart_items):
            if owner == user_id:
                del self._state.cart_items[owner, product_id]


class MemoryOrders:
    checks_seen = False
    checks_session = False

    def __init__(self, state: State) -> None:
        self._state = state

    def daily_totals(self, start: datetime, end: datetime) -> list[DailyTotal]:
        totals: dict[tuple[Any, OrderStatus], tuple[int, Decimal]] = {}
        for row in self._state.orders.values():
            if start <= row["created_at"] < end:
                key = (row["created_at"].date(), OrderStatus(row["status"]))
                count, total = totals.get(key, (0, Decimal("0.00")))
                totals[key] = (count + 1, total + row["total_amount"])
        return [DailyTotal(day, status, n, total) for (day, status), (n, total) in totals.items()]

    def answered(self, user_id: int, key: str) -> Answered | None:
        row = self._state.idempotency_keys.get((user_id, key))
        if row is None:
            return None
        answer, order_id = row["answer"], row["order_id"]
        return Answered(
            row["fingerprint"],
            order_id,
            None if answer is None else order_from_answer(order_id, answer),
        )

    def read(self, user_id: int, lines: Mapping[int, int] | None) -> Seen:
        if lines is None:
            wanted = {
                product_id: line["quantity"]
                for (owner, product_id), line in self._state.cart_items.items()
                if owner == user_id
            }
        else:
            wanted = dict(lines)
        rows = [
            StockRow(
                id=row["id"],
                sku=row["sku"],
                name=row["name"],
                price=row["price"],
                stock_quantity=row["stock_quantity"],
            )
            for product_id in sorted(wanted)
            if (row := self._state.products.get(product_id)) is not None and _live(row)
        ]
        return Seen(wanted, rows)

    def live_rows(self, limit: int) -> list[StockRow]:
        live = [row for _, row in sorted(self._state.products.items(), reverse=True) if _live(row)]
        return [
            StockRow(row["id"], row["sku"], row["name"], row["price"], row["stock_quantity"])
            for row in live[:limit]
        ]

    def add(self, new: NewOrder, draft: OrderDraft, seen: Seen) -> Order:
        for item in draft.items:
            product = self._state.products[item.product_id]
            if product["stock_quantity"] < item.quantity:  # the CHECK behind the decrement
                raise RuntimeError(f"product {item.product_id} would go below zero")
            product["stock_quantity"] -= item.quantity
            product["version"] += 1
        order_id = self._state.next_id("orders")
        self._state.orders[order_id] = {
            "id": order_id,
            "user_id": new.user_id,
            "status": OrderStatus.PENDING,
            "items": [copy.copy(item) for item in draft.items],
            "total_amount": draft.total,
            "currency": new.currency,
            "shipping_address": dict(new.shipping_address),
            "created_at": new.now,
            "updated_at": new.now,
        }
        if new.lines is None:
            MemoryCarts(self._state).clear(new.user_id)
        order = self._order(self._state.orders[order_id])
        if new.idempotency_key is not None:
            self._state.idempotency_keys[new.user_id, new.idempotency_key] = {
                "fingerprint": new.fingerprint,
                "order_id": order_id,
                "answer": answer_of(order),
                "created_at": new.now,
            }
        return order

    def purge_keys(self, before: datetime, limit: int) -> int:
        old = sorted(
            (row["created_at"], k)
            for k, row in self._state.idempotency_keys.items()
            if row["created_at"] < before
        )[:limit]
        for _, k in old:
            del self._state.idempotency_keys[k]
        return len(old)

    def return_stock(self, lines: Sequence[OrderItem]) -> None:
        for line in lines:
            product = self._state.products[line.product_id]
            product["stock_quantity"] += line.quantity
            product["version"] += 1

    @staticmethod
    def _order(row: Mapping[str, Any]) -> Order:
        return Order(
            id=row["id"],
            status=row["status"],
            items=[copy.copy(item) for item in row["items"]],
            total_amount=row["total_amount"],
            currency=row["currency"],
            shipping_address=dict(row["shipping_address"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _rows(self, user_id: int | None = None) -> list[dict[str, Any]]:
        rows = sorted(self._state.orders.values(), key=lambda r: r["id"], reverse=True)
        return [r for r in rows if user_id is None or r["user_id"] == user_id]

    def get(self, order_id: int, user_id: int | None) -> Order | None:
        row = self._state.orders.get(order_id)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return self._order(row)

    def list_for_user(self, user_id: int, after_id: int | None, limit: int) -> list[Order]:
        rows = [r for r in self._rows(user_id) if after_id is None or r["id"] < after_id]
        return [self._order(row) for row in rows[:limit]]

    def list_all(
        self, status: OrderStatus | None, user_id: int | None, after_id: int | None, limit: int
    ) -> list[tuple[Order, Customer]]:
        rows = [
            r
            for r in self._rows(user_id)
            if (status is None or r["status"] == status)
            and (after_id is None or r["id"] < after_id)
        ]
        found = []
        for row in rows[:limit]:
            who = self.customer_of(row["id"])
            assert who is not None
            found.append((self._order(row), who))
        return found

    def customer_of(self, order_id: int) -> Customer | None:
        row = self._state.orders.get(order_id)
        if row is None:
            return None
        user = self._state.users[row["user_id"]]
        return Customer(
            id=user["id"],
            email=user["email"],
            first_name=user["first_name"],
            last_name=user["last_name"],
        )

    def move(
        self,
        order_id: int,
        user_id: int | None,
        allowed_from: Collection[OrderStatus],
        to: OrderStatus,
        now: datetime,
    ) -> bool:
        row = self._state.orders.get(order_id)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return False
        if row["status"] not in allowed_from:
            return False
        row.update(status=to, updated_at=now)
        return True
