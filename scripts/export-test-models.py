#!/usr/bin/env python3
"""Exports the small architecture-family models of test/fixtures/families/ (random weights,
BatchNorm statistics calibrated on random images), one ONNX file each, the way users export
their own models with torch.onnx.export. Needs Debian's python3-torch, python3-torchvision and
python3-onnx (run with /usr/bin/python3); the test suite itself only reads the files.

    /usr/bin/python3 scripts/export-test-models.py test/fixtures/families
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import importlib

from torchvision.models import efficientnet, mobilenetv3, regnet, squeezenet

# torchvision.models.googlenet is the model function: the module holds the blocks.
googlenet = importlib.import_module('torchvision.models.googlenet')

torch.manual_seed(0)


class TinySqueezeNet(nn.Module):
    """SqueezeNet's Fire modules and ceil_mode max pools, narrow."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            squeezenet.Fire(16, 4, 8, 8), squeezenet.Fire(16, 4, 8, 8),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            squeezenet.Fire(16, 8, 16, 16),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(32, classes, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class TinyGoogLeNet(nn.Module):
    """GoogLeNet's Inception blocks (four branches, Concat) and ceil_mode pools, narrow."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(googlenet.BasicConv2d(3, 16, kernel_size=7, stride=2, padding=3), nn.MaxPool2d(3, 2, ceil_mode=True))
        self.a = googlenet.Inception(16, 8, 8, 12, 4, 4, 4)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.b = googlenet.Inception(28, 12, 8, 16, 4, 8, 8)
        self.fc = nn.Linear(44, classes)

    def forward(self, x):
        x = self.b(self.pool(self.a(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class HandWrittenResNet(nn.Module):
    """What users write by hand: normalisation inside the model, x.view(x.size(0), -1) and an MLP
    head (Linear, ReLU, Dropout, Linear); exported untrained, so equal parameters are shared."""

    def __init__(self, classes=10):
        super().__init__()
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.head = nn.Sequential(nn.Linear(8 * 4 * 4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, classes))

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(x + self.block(x))
        x = F.adaptive_avg_pool2d(x, 4)
        return self.head(x.view(x.size(0), -1))


def families():
    b0, b0_last = efficientnet._efficientnet_conf('efficientnet_b0', width_mult=0.25, depth_mult=0.25)
    v3, v3_last = mobilenetv3._mobilenet_v3_conf('mobilenet_v3_small', width_mult=0.25)
    return {
        # name: (model, input size, calibrate BatchNorm, fixed batch)
        'efficientnet': (efficientnet.EfficientNet(b0, 0.2, last_channel=b0_last, num_classes=10), 64, True, False),
        'mobilenet_v3': (mobilenetv3.MobileNetV3(v3, v3_last, num_classes=10), 64, True, False),
        'shufflenet_v2': (torchvision.models.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=10), 64, True, False),
        'regnet_y': (regnet.RegNet(regnet.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=4, se_ratio=0.25), num_classes=10), 64, True, False),
        'squeezenet': (TinySqueezeNet(), 64, False, False),
        'googlenet': (TinyGoogLeNet(), 64, True, False),
        'hand_written': (HandWrittenResNet(), 32, False, True),
    }


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for name, (model, size, calibrate, fixed) in families().items():
        if calibrate:
            # Running statistics of random images, so the eval-mode network is not degenerate.
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = None
                    m.reset_running_stats()
            model.train()
            with torch.no_grad():
                model(torch.randn(16, 3, size, size))
        model.eval()
        x = torch.randn(1, 3, size, size)
        axes = None if fixed else {'input': {0: 'batch'}, 'logits': {0: 'batch'}}
        path = out / f'{name}.onnx'
        torch.onnx.export(model, x, path, input_names=['input'], output_names=['logits'], dynamic_axes=axes, opset_version=14)
        print(f'{path}: {path.stat().st_size} bytes, {sum(p.numel() for p in model.parameters())} parameters')


if __name__ == '__main__':
    main(Path(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/families'))
