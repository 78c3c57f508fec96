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
    SessionCheck,
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
    ImageChanges,
    LowStockProduct,
    NewProduct,
    Product,
    ProductChanges,
    ProductImage,
    ProductQuery,
    ProductSort,
    Rendition,
)
from minicommerce.catalog.service import CatalogService, ImageLimits
from minicommerce.errors import (
    AuthenticationError,
    CommerceError,
    ConfigurationError,
    Conflict,
    EmailTaken,
    EmptyCartError,
    FieldError,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidCredentials,
    InvalidImage,
    InvalidToken,
    InvalidTransition,
    MediaNotConfigured,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    SelfModification,
    ServiceUnavailable,
    SkuTaken,
    UnsupportedMediaType,
    ValidationError,
)
from minicommerce.media import DirectoryMediaStorage, MediaStorage
from minicommerce.orders.models import (
    AdminOrder,
    Customer,
    DaySales,
    Order,
    OrderItem,
    OrderLineInput,
    OrderStatus,
    PlaceOrder,
    ShippingAddress,
    ShopStats,
    StatusChange,
)
from minicommerce.orders.service import OrderService
from minicommerce.pagination import Page
from minicommerce.settings import Settings
from minicommerce.shop import Shop

__version__ = "0.1.0"

__all__ = [
    "AccountService",
    "AdminOrder",
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
    "Customer",
    "DaySales",
    "DirectoryMediaStorage",
    "EmailTaken",
    "EmptyCartError",
    "FieldError",
    "IdempotencyKeyReused",
    "ImageChanges",
    "ImageLimits",
    "InsufficientStock",
    "InvalidCredentials",
    "InvalidImage",
    "InvalidToken",
    "InvalidTransition",
    "LineQuantity",
    "LoginThrottle",
    "LowStockProduct",
    "MediaNotConfigured",
    "MediaStorage",
    "NewProduct",
    "NotFound",
    "Order",
    "OrderItem",
    "OrderLineInput",
    "OrderService",
    "OrderStatus",
    "Page",
    "PasswordChange",
    "PayloadTooLarge",
    "PermissionDenied",
    "PlaceOrder",
    "PreconditionFailed",
    "Product",
    "ProductChanges",
    "ProductImage",
    "ProductQuery",
    "ProductSort",
    "ProfileChanges",
    "RateLimited",
    "RefreshRequest",
    "Registration",
    "Rendition",
    "SelfModification",
    "ServiceUnavailable",
    "SessionCheck",
    "Settings",
    "ShippingAddress",
    "Shop",
    "ShopStats",
    "SkuTaken",
    "StatusChange",
    "TokenPair",
    "UnsupportedMediaType",
    "User",
    "UserAdminChanges",
    "UserQuery",
    "ValidationError",
    "__version__",
]
