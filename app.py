"""Gradio app: translate an image with a shipped or trained CycleGAN model.

    python app.py                      # http://127.0.0.1:7860, the shipped models
    python app.py --model runs/x/weights --port 7861

Also the entry point of a Hugging Face Space: on ZeroGPU hardware (the ``spaces`` package is
installed there) inference runs on the GPU, elsewhere on the CPU. The app makes no network
calls of its own: analytics are off and shipped models load from local folders.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import argparse  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from translate.image_io import (  # noqa: E402
    IMAGE_EXTENSIONS,
    ImageLimits,
    ImageReadError,
    ImageSizeError,
    UnsupportedFormatError,
    open_image,
)
from translate.inference import Translator  # noqa: E402
from translate.models import DEFAULT_MODEL, resolve_model, shipped_models  # noqa: E402
from translate.weights import read_model_info  # noqa: E402

try:  # ZeroGPU on Hugging Face Spaces; absent everywhere else.
    import spaces

    gpu = spaces.GPU
except ImportError:
    spaces = None

    def gpu(function):
        return function


logger = logging.getLogger("app")

DIRECTION_LABELS = {"AtoB": "A → B", "BtoA": "B → A"}
RESOLUTIONS = ("Model resolution", "Full resolution")
MAX_UPLOAD_MB = 50
# 2 CPU cores run one translation at a time fastest; the queue keeps everyone else in order.
CONCURRENCY_LIMIT = int(os.environ.get("APP_CONCURRENCY", "1"))
QUEUE_SIZE = 64
LIMITS = ImageLimits(max_pixels=int(os.environ.get("APP_MAX_PIXELS", 50_000_000)))


@lru_cache(maxsize=8)
def get_translator(model: str, direction: str, full_resolution: bool) -> Translator:
    # The Translator picks CUDA whenever torch.cuda.is_available(), which ZeroGPU makes true at start-up.
    # NOTE: ZeroGPU hardware is not available to the tests; only the CPU path is run here.
    return Translator(model, direction, full_resolution=full_resolution, limits=LIMITS)


def _upload_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir()) / "gradio", Path.cwd() / ".gradio"]
    if os.environ.get("GRADIO_TEMP_DIR"):
        roots.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    return [root.resolve() for root in roots]


def _example_folders() -> list[Path]:
    return [(resolve_model(name) / "examples").resolve() for name in shipped_models()]


def _uploaded_path(payload: dict | str | None) -> Path:
    """Return the local path of an uploaded file, accepting only Gradio's upload cache and the examples."""
    if payload is None:
        raise gr.Error("Upload an image first.")
    path_text = payload if isinstance(payload, str) else payload.get("path")
    if not path_text:
        raise gr.Error("Upload an image first.")
    path = Path(path_text).resolve()
    allowed = _upload_roots() + _example_folders()
    if not any(path.is_relative_to(root) for root in allowed):
        logger.warning("Rejected a request for a file outside the upload folders: %s", path)
        raise gr.Error("The uploaded file was not found on the server; upload it again.")
    return path


def _direction_key(direction: str) -> str:
    return next((key for key, label in DIRECTION_LABELS.items() if direction in (key, label)), direction)


@gpu
def translate_image(
    upload: dict | str | None, model: str, direction: str, resolution: str,
    progress=gr.Progress(),  # noqa: B008 - Gradio finds the progress tracker through this default
) -> Image.Image:
    """Translate one uploaded image; raise ``gr.Error`` with a message the page shows on bad input."""
    path = _uploaded_path(upload)
    shown_name = (upload.get("orig_name") if isinstance(upload, dict) else None) or path.name
    progress(0.05, desc="Loading the model")
    try:
        translator = get_translator(model, _direction_key(direction), resolution == RESOLUTIONS[1])
    except (FileNotFoundError, ValueError) as error:
        logger.error("Model %s (%s) failed to load: %s", model, direction, error)
        raise gr.Error(f"The model {model!r} could not be loaded: {error}") from error
    progress(0.2, desc="Translating")
    try:
        return translator.translate(path)
    except ImageSizeError as error:
        logger.warning("Rejected upload %s: %s", shown_name, error)
        raise gr.Error(str(error).replace(str(path), shown_name)) from error
    except ImageReadError as error:
        logger.warning("Rejected upload %s: %s", shown_name, error)
        formats = ", ".join(ext.lstrip(".").upper() for ext in IMAGE_EXTENSIONS)
        reason = "its format is not supported" if isinstance(error, UnsupportedFormatError) else "it is damaged"
        raise gr.Error(f"{shown_name} is not an image this app can read: {reason}. Upload a {formats} file.") from error


def before_and_after(upload: str | None, result: Image.Image | None):
    """Pair the upright input with the result for the before/after slider."""
    if not upload or result is None:
        return None
    try:
        return open_image(upload, limits=LIMITS), result
    except ImageReadError:
        return None


def _strip_front_matter(text: str) -> str:
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)


def model_summary(model: str) -> str:
    """Describe a model in one Markdown line: domains, variant, resolution, training data and licence."""
    try:
        info = read_model_info(resolve_model(model))
    except (FileNotFoundError, ValueError) as error:
        return f"**{model}**: could not be read ({error})."
    directions = " and ".join(info.describe(d) for d in info.directions)
    kind = "faster, distilled" if info.variant == "fast" else "full generator"
    if info.mirror_average:
        kind += ", averaged with its translation of the mirror image"
    parts = [
        f"**{info.domain_a} ↔ {info.domain_b}**" if len(info.directions) == 2 else f"**{directions}**",
        f"variant: **{info.variant}** ({kind})",
        f"working resolution: {info.image_size} px",
    ]
    for key, label in (("training_data", "training data"), ("license", "licence")):
        if info.extra.get(key):
            parts.append(f"{label}: {info.extra[key]}")
    return " · ".join(parts)


def model_card(model: str) -> str:
    try:
        card = resolve_model(model) / "README.md"
    except FileNotFoundError as error:
        return str(error)
    return _strip_front_matter(card.read_text(encoding="utf-8")) if card.is_file() else "No model card."


def model_choices(models: list[str]) -> list[tuple[str, str]]:
    """Return dropdown entries labelled with each model's variant, fast (distilled) or best."""
    choices = []
    for name in models:
        try:
            variant = read_model_info(resolve_model(name)).variant
        except (FileNotFoundError, ValueError):
            variant = "?"
        choices.append((f"{name} ({variant})", name))
    return choices


def direction_choices(model: str) -> list[tuple[str, str]]:
    info = read_model_info(resolve_model(model))
    return [(f"{DIRECTION_LABELS[d]}  ({info.describe(d)})", d) for d in info.directions]


def on_model_change(model: str):
    choices = direction_choices(model)
    return gr.Radio(choices=choices, value=choices[0][1]), model_summary(model), model_card(model)


def examples_for(models: list[str]) -> list[list[str]]:
    """Held-out examples of every shipped model: ``noto_*`` style files go A to B, the others B to A."""
    rows = []
    for name in models:
        try:
            folder = resolve_model(name)
            info = read_model_info(folder)
        except (FileNotFoundError, ValueError):
            continue
        for path in sorted((folder / "examples").glob("*")):
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            direction = "BtoA" if "BtoA" in info.directions and path.name.startswith(
                info.domain_b.lower()) else "AtoB"
            rows.append([str(path), name, direction, RESOLUTIONS[0]])
    return rows


def build_demo(models: list[str] | None = None, default_model: str | None = None) -> gr.Blocks:
    models = models or shipped_models() or [DEFAULT_MODEL]
    default_model = default_model or (DEFAULT_MODEL if DEFAULT_MODEL in models else models[0])
    choices = direction_choices(default_model)

    with gr.Blocks(title="CycleGAN translate") as demo:
        gr.Markdown(
            "# CycleGAN image translation\n"
            "Upload, drop or paste an image (or use the webcam), pick a model and a direction. The result keeps "
            f"your image's size and transparency. Up to {MAX_UPLOAD_MB} MB and {LIMITS.max_pixels // 1_000_000} "
            "megapixels."
        )
        with gr.Row():
            with gr.Column():
                upload = gr.Image(label="Input image", type="filepath", image_mode=None, height=360,
                                  sources=["upload", "clipboard", "webcam"], elem_id="input-image")
                model = gr.Dropdown(choices=model_choices(models), value=default_model, label="Model",
                                    info="best: the full generator; fast: a distilled one, several times faster",
                                    elem_id="model")
                summary = gr.Markdown(model_summary(default_model), elem_id="model-summary")
                direction = gr.Radio(choices=choices, value=choices[0][1], label="Direction", elem_id="direction")
                resolution = gr.Radio(choices=list(RESOLUTIONS), value=RESOLUTIONS[0], label="Resolution",
                                      info="Model resolution matches what the model was trained on; full "
                                           "resolution runs the network on every pixel, in tiles for large images.")
                button = gr.Button("Translate", variant="primary", elem_id="translate")
            with gr.Column():
                result = gr.Image(label="Result (download as PNG)", type="pil", format="png", image_mode=None,
                                  height=360, interactive=False, buttons=["download", "fullscreen"], elem_id="result")
                slider = gr.ImageSlider(label="Before / after", type="pil", format="png", image_mode=None,
                                        interactive=False, elem_id="comparison")
        with gr.Accordion("Model card", open=False):
            card = gr.Markdown(model_card(default_model))

        examples = examples_for(models)
        if examples:
            gr.Examples(examples=examples, inputs=[upload, model, direction, resolution], outputs=[result],
                        fn=translate_image, cache_examples=True, label="Held-out examples",
                        api_visibility="private")

        model.change(on_model_change, inputs=[model], outputs=[direction, summary, card], api_name=False)
        # preprocess=False: the handler reads the uploaded file itself, so a file that is not an
        # image gets this app's message instead of a decoding error from inside Gradio.
        event = button.click(translate_image, inputs=[upload, model, direction, resolution], outputs=[result],
                             api_name="translate", preprocess=False, concurrency_limit=CONCURRENCY_LIMIT)
        event.success(before_and_after, inputs=[upload, result], outputs=[slider], api_name=False)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the CycleGAN translation app.")
    parser.add_argument("--model", default=None,
                        help="model shown first: weights folder, shipped or pretrained name, or Hub id")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (default: $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for every "
                             "interface)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port to serve on (default: $GRADIO_SERVER_PORT or 7860)")
    args, _ = parser.parse_known_args()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)

    models = shipped_models()
    if args.model and args.model not in models:
        models = [args.model, *models]
    if not models:
        raise SystemExit("app.py: error: no model to serve: weights/ has no shipped model. Pass --model with a "
                         "weights folder, an official pretrained name or a Hub id.")
    try:
        read_model_info(resolve_model(args.model or models[0]))
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"app.py: error: {error}") from error
    demo = build_demo(models, args.model)
    # Load the default model once at start, so the first visitor does not wait for it.
    default = args.model or (DEFAULT_MODEL if DEFAULT_MODEL in models else models[0])
    get_translator(default, direction_choices(default)[0][1], False)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    demo.launch(server_name=args.host, server_port=args.port, show_error=True,
                max_file_size=f"{MAX_UPLOAD_MB}mb")


if __name__ == "__main__":
    main()
