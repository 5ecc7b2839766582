"""Gradio app: translate an image with a shipped or trained CycleGAN model.

    python app.py                      # http://127.0.0.1:7860, the shipped emoji model
    python app.py --model runs/x/weights --port 7861

Also the entry point of a Hugging Face Space. The app makes no network calls: analytics are
off and models load from local folders.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import argparse  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from translate.image_io import IMAGE_EXTENSIONS, ImageReadError  # noqa: E402
from translate.inference import Translator  # noqa: E402
from translate.models import DEFAULT_MODEL, resolve_model, shipped_models  # noqa: E402
from translate.weights import read_model_info  # noqa: E402

logger = logging.getLogger("app")

DIRECTION_LABELS = {"AtoB": "A → B", "BtoA": "B → A"}
RESOLUTIONS = ("Model resolution", "Full resolution")
MAX_UPLOAD_MB = 50


@lru_cache(maxsize=8)
def get_translator(model: str, direction: str, full_resolution: bool) -> Translator:
    return Translator(resolve_model(model), direction, full_resolution=full_resolution)


def _upload_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir()) / "gradio"]
    if os.environ.get("GRADIO_TEMP_DIR"):
        roots.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    return [root.resolve() for root in roots]


def _uploaded_path(payload: dict | str | None) -> Path:
    """Return the local path of an uploaded file, accepting only files in Gradio's upload cache."""
    if payload is None:
        raise gr.Error("Upload an image first.")
    path_text = payload if isinstance(payload, str) else payload.get("path")
    if not path_text:
        raise gr.Error("Upload an image first.")
    path = Path(path_text).resolve()
    if not any(path.is_relative_to(root) for root in _upload_roots()) and not _is_example(path):
        raise gr.Error("The uploaded file was not found on the server; upload it again.")
    return path


def _is_example(path: Path) -> bool:
    return any(path.is_relative_to(folder.resolve()) for folder in _example_folders())


def _example_folders() -> list[Path]:
    return [resolve_model(name) / "examples" for name in shipped_models()]


def translate_image(upload: dict | str | None, model: str, direction: str, resolution: str) -> Image.Image:
    """Translate one uploaded image; raise ``gr.Error`` with a message the page shows on bad input."""
    path = _uploaded_path(upload)
    original_name = upload.get("orig_name") if isinstance(upload, dict) else None
    shown_name = original_name or path.name
    direction = next((key for key, label in DIRECTION_LABELS.items() if direction in (key, label)), direction)
    try:
        translator = get_translator(model, direction, resolution == RESOLUTIONS[1])
    except (FileNotFoundError, ValueError) as error:
        logger.error("Model %s (%s) failed to load: %s", model, direction, error)
        raise gr.Error(f"The model {model!r} could not be loaded: {error}") from error
    try:
        return translator.translate(path)
    except ImageReadError as error:
        logger.warning("Rejected upload %s: %s", shown_name, error)
        raise gr.Error(
            f"{shown_name} is not an image this app can read. Upload a PNG, JPEG, WebP, BMP or TIFF file."
        ) from error


def directions_for(model: str) -> gr.Radio:
    info = read_model_info(resolve_model(model))
    choices = [(DIRECTION_LABELS[d] + f"  ({info.describe(d)})", d) for d in info.directions]
    return gr.Radio(choices=choices, value=choices[0][1])


def build_demo(models: list[str] | None = None, default_model: str | None = None) -> gr.Blocks:
    models = models or shipped_models() or [DEFAULT_MODEL]
    default_model = default_model or (DEFAULT_MODEL if DEFAULT_MODEL in models else models[0])
    info = read_model_info(resolve_model(default_model))
    direction_choices = [(DIRECTION_LABELS[d] + f"  ({info.describe(d)})", d) for d in info.directions]

    with gr.Blocks(title="CycleGAN translate") as demo:
        gr.Markdown(
            "# CycleGAN image translation\n"
            "Upload an image, choose a model and a direction. The result keeps your image's size and transparency."
        )
        with gr.Row():
            with gr.Column():
                upload = gr.Image(label="Input image", type="filepath", image_mode=None,
                                  sources=["upload", "clipboard", "webcam"])
                model = gr.Dropdown(choices=models, value=default_model, label="Model")
                direction = gr.Radio(choices=direction_choices, value=direction_choices[0][1], label="Direction")
                resolution = gr.Radio(choices=list(RESOLUTIONS), value=RESOLUTIONS[0], label="Resolution",
                                      info="Model resolution matches what the model was trained on; "
                                           "full resolution runs the network on every pixel of your image.")
                button = gr.Button("Translate", variant="primary")
            with gr.Column():
                result = gr.Image(label="Result", type="pil", format="png", interactive=False)

        examples = sorted(p for p in (resolve_model(default_model) / "examples").glob("*")
                          if p.suffix.lower() in IMAGE_EXTENSIONS)
        if examples:
            gr.Examples(examples=[[str(p)] for p in examples], inputs=[upload], label="Held-out examples")

        model.change(directions_for, inputs=[model], outputs=[direction], api_name=False)
        # preprocess=False: the handler reads the uploaded file itself, so a file that is not an
        # image gets this app's message instead of a decoding error from inside Gradio.
        button.click(translate_image, inputs=[upload, model, direction, resolution], outputs=[result],
                     api_name="translate", preprocess=False, concurrency_limit=1)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the CycleGAN translation app.")
    parser.add_argument("--model", default=None, help="weights folder or shipped model name shown first")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    args, _ = parser.parse_known_args()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)

    models = shipped_models()
    if args.model and args.model not in models:
        models = [args.model, *models]
    demo = build_demo(models, args.model)
    # Load the default model once at start, so the first visitor does not wait for it.
    get_translator(args.model or models[0], "AtoB", False)
    demo.queue(default_concurrency_limit=1, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, show_error=True,
                max_file_size=f"{MAX_UPLOAD_MB}mb")


if __name__ == "__main__":
    main()
