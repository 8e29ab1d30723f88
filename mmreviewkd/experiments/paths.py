"""Where the repository's configs and tools are, for the experiment tools."""
import os.path as osp


def project_root() -> str:
    """The folder that holds ``configs/`` and ``tools/train.py``.

    In a checkout (and an editable install) that is the repository; in a wheel install it is
    ``mmreviewkd/.mim``, where ``setup.py`` puts the configs and tools for ``mim``.

    Raises:
        FileNotFoundError: when neither place has them (a wheel built without the ``.mim``
            extension).
    """
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    candidates = (osp.dirname(package), osp.join(package, '.mim'))
    for root in candidates:
        if osp.isdir(osp.join(root, 'configs')) and \
                osp.isfile(osp.join(root, 'tools', 'train.py')):
            return root
    raise FileNotFoundError(
        f'no configs/ and tools/train.py in {" or ".join(candidates)}: run the experiment tools '
        'from a checkout of mmreviewkd, or install a wheel built by its setup.py (it ships them '
        'in mmreviewkd/.mim)')
