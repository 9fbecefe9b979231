"""Production (002): tasks with items, production batches, custom statuses, and the maker's stock-level updates.

What other code may use of production: its service, its models and its inputs.
"""

from chalicelib.features.production.model import (
    Batch,
    CustomStatus,
    StatusEffect,
    Task,
    TaskItem,
    TaskStatus,
)
from chalicelib.features.production.service import (
    ItemDraft,
    LevelRequest,
    ProductionService,
    TaskChanges,
    TaskDraft,
    TaskView,
)

__all__ = [
    "Batch",
    "CustomStatus",
    "ItemDraft",
    "LevelRequest",
    "ProductionService",
    "StatusEffect",
    "Task",
    "TaskChanges",
    "TaskDraft",
    "TaskItem",
    "TaskStatus",
    "TaskView",
]
