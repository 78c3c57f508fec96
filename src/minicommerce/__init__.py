"""minicommerce: a headless commerce core for Python.

Open a shop on a database URL and use its services::

    from minicommerce import NewProduct, Shop

    with Shop.open("sqlite:///shop.db") as shop:
        mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10))

Nothing happens at import time; the web server lives in ``minicommerce_server``.
"""

from minicommerce.accounts.auth import AuthService, LoginThrottle
from minicommerce.accounts.models import (
    Credentials,
    PasswordChange,
    ProfileChanges,
    RefreshRequest,
    Registration,
    TokenPair,
    User,
    UserAdminChanges,
    UserQuery,
)
from minicommerce.accounts.passwords import Argon2Parameters
from minicommerce.accounts.service import AccountService
from minicommerce.carts.models import Cart, CartLine, LineQuantity
from minicommerce.carts.service import CartService
from minicommerce.catalog.models import (
    NewProduct,
    Product,
    ProductChanges,
    ProductQuery,
    ProductSort,
)
from minicommerce.catalog.service import CatalogService
from minicommerce.errors import (
    AuthenticationError,
    CommerceError,
    ConfigurationError,
    Conflict,
    EmailTaken,
    FieldError,
    InsufficientStock,
    InvalidCredentials,
    InvalidToken,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    SelfModification,
    ServiceUnavailable,
    SkuTaken,
    ValidationError,
)
from minicommerce.pagination import Page
from minicommerce.settings import Settings
from minicommerce.shop import Shop

__version__ = "0.1.0"

__all__ = [
    "AccountService",
    "Argon2Parameters",
    "AuthService",
    "AuthenticationError",
    "Cart",
    "CartLine",
    "CartService",
    "CatalogService",
    "CommerceError",
    "ConfigurationError",
    "Conflict",
    "Credentials",
    "EmailTaken",
    "FieldError",
    "InsufficientStock",
    "InvalidCredentials",
    "InvalidToken",
    "InvalidTransition",
    "LineQuantity",
    "LoginThrottle",
    "NewProduct",
    "NotFound",
    "Page",
    "PasswordChange",
    "PermissionDenied",
    "PreconditionFailed",
    "Product",
    "ProductChanges",
    "ProductQuery",
    "ProductSort",
    "ProfileChanges",
    "RateLimited",
    "RefreshRequest",
    "Registration",
    "SelfModification",
    "ServiceUnavailable",
    "Settings",
    "Shop",
    "SkuTaken",
    "TokenPair",
    "User",
    "UserAdminChanges",
    "UserQuery",
    "ValidationError",
    "__version__",
]
