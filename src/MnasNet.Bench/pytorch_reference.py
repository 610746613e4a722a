#!/usr/bin/env python3
"""PyTorch reference for `mnasnet bench train --compare`: trains the same network, with the same optimiser, batch,
thread count and image count, on seeded random images, and prints its training images/s as one JSON line.

The network is read from the JSON description `mnasnet bench train --compare` writes (`--net FILE`: every
convolution, BatchNorm, squeeze-excite and skip of our MnasNetModel), so both sides train the same layers; or
`--torchvision mnasnet0_5` trains torchvision's MNASNet instead. A benchmark-only dependency: Debian's
`python3-torch` and `python3-torchvision` (`deploy/setup.sh --bench`).
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBnAct(nn.Module):
    def __init__(self, d, bn_eps):
        super().__init__()
        k = d["kernel"]
        self.conv = nn.Conv2d(d["in"], d["out"], k, stride=d["stride"], padding=k // 2, groups=d["groups"], bias=False)
        self.bn = nn.BatchNorm2d(d["out"], eps=bn_eps, momentum=0.1)
        self.act = d["activation"]

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) if self.act else y


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduced):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(F.relu(self.reduce(s))))


class Layer(nn.Module):
    def __init__(self, d, bn_eps):
        super().__init__()
        self.convs = nn.ModuleList(ConvBnAct(c, bn_eps) for c in d["convs"])
        self.se = SqueezeExcite(d["se"]["channels"], d["se"]["reduced"]) if d.get("se") else None
        self.se_after = d["seAfter"]
        self.residual = d["residual"]
        self.skip = d["skip"]
        self.stride, self.cin, self.cout = d["stride"], d["in"], d["out"]

    def forward(self, x):
        y = x
        for i, c in enumerate(self.convs):
            y = c(y)
            if i == self.se_after and self.se is not None:
                y = self.se(y)
        if not self.residual:
            return y
        s = x
        if self.skip == "pool":
            if self.stride > 1:
                s = F.avg_pool2d(s, self.stride, self.stride, ceil_mode=True, count_include_pad=False)
            if self.cout > self.cin:
                s = F.pad(s, [0, 0, 0, 0, 0, self.cout - self.cin])
            elif self.cout < self.cin:
                s = s[:, : self.cout]
        return y + s


class Net(nn.Module):
    def __init__(self, d):
        super().__init__()
        eps = d["batchNormEps"]
        self.stem = ConvBnAct(d["stem"], eps)
        self.layers = nn.ModuleList(Layer(layer, eps) for layer in d["layers"])
        self.head = ConvBnAct(d["head"], eps)
        self.dropout = nn.Dropout(d["dropout"])
        self.classifier = nn.Linear(d["head"]["out"], d["classes"])

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        x = F.adaptive_avg_pool2d(self.head(x), 1).flatten(1)
        return self.classifier(self.dropout(x))


def build(args):
    if args.torchvision:
        import torchvision

        return getattr(torchvision.models, args.torchvision)(num_classes=args.classes, dropout=args.dropout)
    with open(args.net, encoding="utf-8") as f:
        return Net(json.load(f))


def optimiser(args, model):
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=args.momentum > 0)
    return torch.optim.RMSprop(groups, lr=args.lr, alpha=args.rms_decay, eps=args.rms_epsilon, momentum=args.momentum)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--net", help="network description JSON written by mnasnet bench train --compare")
    p.add_argument("--torchvision", help="a torchvision model name instead, e.g. mnasnet0_5")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=2048, help="images per epoch")
    p.add_argument("--epochs", type=int, default=2, help="epochs; the first is warm-up")
    p.add_argument("--optimizer", choices=["sgd", "rmsprop"], default="sgd")
    p.add_argument("--lr", type=float, default=0.4)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--rms-decay", type=float, default=0.9)
    p.add_argument("--rms-epsilon", type=float, default=0.0316)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=2.0, help="gradient norm clip; 0: off")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if not args.net and not args.torchvision:
        p.error("give --net FILE or --torchvision NAME")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build(args)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = optimiser(args, model)
    steps = args.images // args.batch
    images = torch.randn(steps, args.batch, 3, args.resolution, args.resolution)
    labels = torch.randint(0, args.classes, (steps, args.batch))
    total = steps * (args.epochs - 1)
    seconds = []
    losses = []
    model.train()
    for epoch in range(args.epochs):
        start = time.perf_counter()
        for i in range(steps):
            step = epoch * steps + i
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / max(1, total + steps)))
            x = images[i].contiguous(memory_format=fmt)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), labels[i], label_smoothing=args.label_smoothing)
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            losses.append(loss.item())
        seconds.append(time.perf_counter() - start)
    measured = seconds[1:]
    result = {
        "imagesPerSecond": steps * args.batch * len(measured) / sum(measured),
        "epochSeconds": seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "finalLoss": losses[-1],
        "finite": all(math.isfinite(v) for v in losses),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
