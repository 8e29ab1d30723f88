"""Generate a small COCO-format detection / instance-segmentation dataset from Fashion-MNIST.

    python tools/dataset_converters/make_fmnist_coco.py [--src data/fashion_mnist]
        [--out data/fmnist_coco] [--train 400] [--val 100] [--holdout 0] [--size 128] [--seed 0]

Every canvas gets 1..``--max-objects`` Fashion-MNIST items pasted at random positions and scales
(items may overlap; later items are on top). An item's mask is its visible pixels above
``--threshold``; its box is the mask's extent; its category is its Fashion-MNIST class. Items
are tinted with a random colour on a dark noisy background. Train and val come from the
Fashion-MNIST train and test sets respectively; everything is deterministic given ``--seed``.
With ``--holdout N`` a third split, ``holdout``, of N canvases is composed from the last 5 000
Fashion-MNIST training images (the classification validation split) and the training canvases
from the first 55 000 only: a validation split for choices, disjoint from training in canvases
and in items (``val`` stays the evaluation split, from the test set).

Writes ``{out}/{train,val[,holdout]}/*.png`` and ``{out}/annotations/instances_<split>.json``
(masks as COCO RLE), the layout MMDet's ``CocoDataset`` reads; every annotation also names the
Fashion-MNIST image it was made of (``source_index``: its index in the Fashion-MNIST train or
test file).
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np

# Fashion-MNIST training images that --holdout canvases are made of (the last ones: the same
# items as the classification validation split, configs/fashion_mnist/)
HOLDOUT_ITEMS = 5000
CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
           'Bag', 'Ankle boot')


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    import gzip
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(src: str, stem: str) -> str:
    for name in (stem, stem + '.gz'):
        if osp.isfile(osp.join(src, name)):
            return osp.join(src, name)
    raise FileNotFoundError(f'{stem} not found in {src} (run tools/setup_env.sh to get '
                            'Fashion-MNIST into data/fashion_mnist)')


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)


def make_split(images: np.ndarray, labels: np.ndarray, num: int, size: int, max_objects: int,
               scale: Tuple[float, float], threshold: int, rng: np.random.Generator,
               img_dir: str, split: str, index_offset: int = 0) -> Dict:
    """Compose ``num`` canvases and return the COCO dict of the split (``images[i]`` is image
    ``index_offset + i`` of its Fashion-MNIST file)."""
    import cv2
    from pycocotools import mask as mask_utils
    os.makedirs(img_dir, exist_ok=True)
    coco_images: List[Dict] = []
    annotations: List[Dict] = []
    ann_id = 1
    for img_id in range(1, num + 1):
        canvas = rng.integers(0, 30, size=(size, size, 3), dtype=np.uint8)
        owner = np.zeros((size, size), dtype=np.int32)  # which object a pixel shows (0: none)
        objects = []
        for obj in range(1, int(rng.integers(1, max_objects + 1)) + 1):
            idx = int(rng.integers(0, len(images)))
            side = int(round(28 * rng.uniform(*scale)))
            item = _resize(images[idx], side)
            y0 = int(rng.integers(0, size - side + 1))
            x0 = int(rng.integers(0, size - side + 1))
            fg = item > threshold
            if fg.sum() < 20:
                continue
            color = rng.uniform(0.5, 1.0, size=3)
            patch = canvas[y0:y0 + side, x0:x0 + side]
            tinted = (item[..., None] * color).astype(np.uint8)
            patch[fg] = tinted[fg]
            owner[y0:y0 + side, x0:x0 + side][fg] = obj
            objects.append((obj, int(labels[idx]), index_offset + idx))
        file_name = f'{split}_{img_id:05d}.png'
        cv2.imwrite(osp.join(img_dir, file_name), canvas[..., ::-1])  # RGB -> BGR file
        coco_images.append(dict(id=img_id, file_name=file_name, height=size, width=size))
        for obj, label, idx in objects:
            mask = owner == obj
            if mask.sum() < 10:  # hidden behind later items
                continue
            ys, xs = np.nonzero(mask)
            x, y = int(xs.min()), int(ys.min())
            w, h = int(xs.max()) - x + 1, int(ys.max()) - y + 1
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode('ascii')
            annotations.append(dict(
                id=ann_id, image_id=img_id, category_id=label + 1, bbox=[x, y, w, h],
                area=float(mask.sum()), iscrowd=0, segmentation=rle, source_index=idx))
            ann_id += 1
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    return dict(images=coco_images, annotations=annotations, categories=categories)


def main(argv=None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', default='data/fashion_mnist')
    parser.add_argument('--out', default='data/fmnist_coco')
    parser.add_argument('--train', type=int, default=400, help='training canvases')
    parser.add_argument('--val', type=int, default=100, help='validation canvases')
    parser.add_argument('--holdout', type=int, default=0,
                        help='held-out validation canvases from the last 5000 training items')
    parser.add_argument('--size', type=int, default=128, help='canvas side in pixels')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--min-scale', type=float, default=0.8)
    parser.add_argument('--max-scale', type=float, default=1.6)
    parser.add_argument('--threshold', type=int, default=40, help='mask threshold (0-255)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)

    train_imgs = read_idx(_find(args.src, 'train-images-idx3-ubyte'))
    train_lbls = read_idx(_find(args.src, 'train-labels-idx1-ubyte'))
    splits = dict(
        train=(train_imgs, train_lbls, args.train, 0),
        val=(read_idx(_find(args.src, 't10k-images-idx3-ubyte')),
             read_idx(_find(args.src, 't10k-labels-idx1-ubyte')), args.val, 0))
    if args.holdout > 0:  # items disjoint too: the last HOLDOUT_ITEMS training images
        cut = len(train_imgs) - HOLDOUT_ITEMS
        if cut <= 0:
            raise ValueError(f'--holdout needs more than {HOLDOUT_ITEMS} training images in '
                             f'{args.src}, found {len(train_imgs)}')
        splits['train'] = (train_imgs[:cut], train_lbls[:cut], args.train, 0)
        splits['holdout'] = (train_imgs[cut:], train_lbls[cut:], args.holdout, cut)
    os.makedirs(osp.join(args.out, 'annotations'), exist_ok=True)
    written = {}
    for i, (split, (imgs, lbls, num, offset)) in enumerate(splits.items()):
        rng = np.random.default_rng([args.seed, i])
        coco = make_split(imgs, lbls, num, args.size, args.max_objects,
                          (args.min_scale, args.max_scale), args.threshold, rng,
                          osp.join(args.out, split), split, offset)
        path = osp.join(args.out, 'annotations', f'instances_{split}.json')
        with open(path, 'w') as f:
            json.dump(coco, f)
        written[split] = path
        print(f'{split}: {len(coco["images"])} images, {len(coco["annotations"])} objects -> '
              f'{path}')
    return written


if __name__ == '__main__':
    main()
