"""What every 003 order route shares: paths, tag and permissions."""

from __future__ import annotations

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.surfaces.company.common import PREFIX

TAG_ORDERS = "Company orders"
ORDERS = f"{PREFIX}/orders"
ORDER = f"{ORDERS}/{{orderId}}"
LINE = f"{ORDER}/line-items/{{lineItemId}}"
READ = [Permission.ORDERS_READ]
WRITE = [Permission.ORDERS_WRITE]
