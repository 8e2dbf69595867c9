"""The model list of ``GET /v1/models``: the OpenAI shape, plus what each model can do.

Every model appears as ``provider/model``; a bare id appears as well when exactly one
provider offers it.  Each item adds two fields to OpenAI's: ``capabilities`` (the sorted
list of :data:`chatplug.types.CAPABILITIES` the model declares) and ``upstream`` (the kind
of upstream: ``official``, ``self-hosted``, ``web-chat`` or ``unknown``).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence

from ..types import ModelInfo
from .state import ServerState


def model_object(model: ModelInfo, ident: str) -> Dict[str, Any]:
    return {
        "id": ident,
        "object": "model",
        "created": 0,
        "owned_by": model.provider,
        "capabilities": sorted(model.capabilities),
        "upstream": model.upstream,
    }


def model_index(models: Sequence[ModelInfo]) -> Dict[str, Dict[str, Any]]:
    """``provider/model`` for every model, plus bare ids offered by one provider only."""
    owners: Dict[str, List[str]] = {}
    for model in models:
        owners.setdefault(model.id, []).append(model.provider)
    index = {model.qualified_id: model_object(model, model.qualified_id) for model in models}
    for model in models:
        if len(owners[model.id]) == 1 and model.id not in index:
            index[model.id] = model_object(model, model.id)
    return index


def index_models(state: ServerState, models: Sequence[ModelInfo]) -> None:
    """Cache the model list (and its encoded body) on the app's state."""
    state.models = model_index(models)
    state.models_body = json.dumps({"object": "list", "data": list(state.models.values())}).encode()
