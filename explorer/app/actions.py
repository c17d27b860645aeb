"""The app's actions in one namespace: what `explorer.app.ui` wires to components and the tests call.

Plain functions of (engine, state, inputs) -> (state, outputs), no Gradio in here. They live in
`explorer.app.engine` (shared resources), `explorer.app.state` (the current point, views, model choice)
and one module per tab in `explorer.app.tabs`; this module only gathers them.
"""

from explorer.app.engine import (
    DEFAULT_CHECKPOINT,
    MAX_DIMS,
    MAX_NEIGHBOURS,
    MAX_SEMANTIC,
    MAX_STEPS,
    SEMANTIC_RANGE,
    SLIDER_DECIMALS,
    SLIDER_RANGE,
    Engine,
    ModelEntry,
    UserError,
    find_checkpoints,
)
from explorer.app.state import (
    choose_model,
    info_text,
    map_xy,
    new_state,
    overlay,
    play_item,
    render_view,
    semantic_values,
    set_current_params,
    set_current_z,
    status_line,
    summary,
    to_int16,
)
from explorer.app.tabs.ab import compare as compare_ab
from explorer.app.tabs.audio_in import (
    CANDIDATE_COLUMNS,
    audio_in,
    candidate_rows,
    candidate_to_current,
    play_candidate,
    refine_current,
)
from explorer.app.tabs.find import pick as pick_result
from explorer.app.tabs.find import search
from explorer.app.tabs.history import (
    add_favourite,
    export_favourites,
    favourite_choices,
    goto_favourite,
    history_choices,
    remember,
    remove_favourite,
)
from explorer.app.tabs.history import go as go_history
from explorer.app.tabs.history import jump as jump_history
from explorer.app.tabs.interpolation import (
    ends_text,
    interpolate,
    set_end,
    step_to_current,
)
from explorer.app.tabs.live import audition, preview
from explorer.app.tabs.macro import set_dim, set_latent, set_semantic, slider_labels
from explorer.app.tabs.map import decode_xy, map_click, select_point
from explorer.app.tabs.neighbourhood import neighbour_to_current, neighbourhood
from explorer.app.tabs.presets import (
    MAX_PRESET_BYTES,
    export_preset,
    load_presets,
    place_preset,
)

__all__ = [
    "CANDIDATE_COLUMNS", "DEFAULT_CHECKPOINT", "MAX_DIMS", "MAX_NEIGHBOURS", "MAX_PRESET_BYTES",
    "MAX_SEMANTIC", "MAX_STEPS", "SEMANTIC_RANGE", "SLIDER_DECIMALS", "SLIDER_RANGE", "Engine", "ModelEntry", "UserError",
    "add_favourite", "audio_in", "audition", "candidate_rows", "candidate_to_current", "choose_model",
    "compare_ab", "decode_xy", "ends_text", "export_favourites", "export_preset", "favourite_choices",
    "find_checkpoints", "go_history", "goto_favourite", "history_choices", "info_text", "interpolate",
    "jump_history", "load_presets", "map_click", "map_xy", "neighbour_to_current", "neighbourhood",
    "new_state", "overlay", "pick_result", "place_preset", "play_candidate", "play_item", "preview",
    "refine_current", "remember", "remove_favourite", "render_view", "search", "select_point",
    "semantic_values", "set_current_params", "set_current_z", "set_dim", "set_end", "set_latent",
    "set_semantic", "slider_labels", "status_line", "step_to_current", "summary", "to_int16",
]
