#!/usr/bin/env python3
"""Writes the full-size models of the benchmark's architecture cases (random weights: timing does
not depend on them) to bench/models/, where `npm run bench` looks for them. Needs Debian's
python3-torch, python3-torchvision and python3-onnx (run with /usr/bin/python3). The files are
large (VGG16 alone is 528 MB) and are not part of the repository.

    /usr/bin/python3 scripts/export-bench-models.py [bench/models]
"""
import sys
from pathlib import Path

import torch
import torchvision

MODELS = {
    'vgg16': torchvision.models.vgg16,
    'mobilenet_v2': torchvision.models.mobilenet_v2,
    'efficientnet_b0': torchvision.models.efficientnet_b0,
    'densenet121': torchvision.models.densenet121,
    'resnext50': torchvision.models.resnext50_32x4d,
}


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, build in MODELS.items():
        path = out / f'{name}.onnx'
        if path.exists():
            print(f'{path}: exists')
            continue
        model = build().eval()
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
        print(f'{path}: {path.stat().st_size / 2**20:.0f} MB')


if __name__ == '__main__':
    main(Path(sys.argv[1] if len(sys.argv) > 1 else 'bench/models'))
