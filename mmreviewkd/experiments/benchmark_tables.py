"""Markdown tables of the benchmark tools' JSON: the training step
(``tools/analysis_tools/benchmark_step.py``), inference
(``tools/analysis_tools/benchmark_inference.py``) and the early-exit sweep
(``tools/analysis_tools/early_exit_sweep.py``); the tools print them and
``tools/analysis_tools/results_tables.py`` renders them into the docs; also the step profile
(``tools/analysis_tools/profile_step.py``)."""
from typing import Dict

# timing rounds per step variant (ours and the hand-written loop alternate); the median is kept
STEP_ROUNDS = 5


def step_ratios(row: Dict) -> Dict[str, float]:
    """The ratios of step times the docs report for one pair's variants (missing variants are
    left out)."""
    def t(name, key='s_per_step'):
        return row.get(name, {}).get(key)
    pairs = {
        'ours_vs_handwritten (default settings)': (t('reviewkd'),
                                                   t('reviewkd', 'handwritten_s_per_step')),
        'ours_vs_handwritten (reference settings)': (
            t('reviewkd_reference'), t('reviewkd_reference', 'handwritten_s_per_step')),
        'reviewkd_vs_kd': (t('reviewkd'), t('kd')),
        'speedup: default vs reference (all speed-ups)': (t('reviewkd_reference'), t('reviewkd')),
        'speedup: split attention (contiguous)': (t('reviewkd_reference'),
                                                  t('reviewkd_split_only')),
        'speedup: channels_last (split attention)': (t('reviewkd_split_only'),
                                                     t('reviewkd_unfused')),
        # tables measured before compute_dtype have no reviewkd_float32: reviewkd was float32
        'speedup: fused ABF ops + nested HCL pools': (t('reviewkd_unfused'),
                                                      t('reviewkd_float32') or t('reviewkd')),
        'speedup: review path in bf16 (compute_dtype auto)': (t('reviewkd_float32'),
                                                              t('reviewkd')),
        'speedup: teacher inference_mode': (t('reviewkd'), t('reviewkd_inference_mode')),
        'speedup: compiled connector': (t('reviewkd'), t('reviewkd_compiled')),
        'speedup: channels_last student alone': (t('student'), t('student_channels_last')),
    }
    return {k: a / b for k, (a, b) in pairs.items() if a and b}


def review_path_note(settings: Dict) -> str:
    """``', ReviewKD's review path in ...'`` where the measurement recorded it (those before
    ``compute_dtype`` ran it in float32 and did not)."""
    return (f", ReviewKD's review path in {settings['review_path']}"
            if settings.get('review_path') else '')


def format_step_pair(pair: str, data: Dict) -> str:
    """A markdown table of one teacher:student pair's step times, and its ratios."""
    teacher, student = pair.split(':')
    settings = data['settings']
    lines = [f'{teacher} -> {student}, batch {settings["batch"]}, 3x32x32, '
             f'{settings["threads"]} threads, {settings.get("amp", "fp32")}'
             f'{review_path_note(settings)}, torch {settings["torch"]}, median of '
             f'{STEP_ROUNDS} rounds of {settings["iters"]} steps', '',
             '| variant | s/step | x student | step peak MB | extra params | hand-written s/step |',
             '|---|---:|---:|---:|---:|---:|']
    for name, r in data['variants'].items():
        hand = r.get('handwritten_s_per_step')
        ratio = r.get('ratio_to_student', float('nan'))
        lines.append(f'| {name} | {r["s_per_step"]:.3f} | {ratio:.2f} | '
                     f'{r["step_peak_mb"]:.0f} | {r["extra_params"]:,d} | '
                     f'{f"{hand:.3f}" if hand else ""} |')
    lines += ['', '| ratio | value |', '|---|---:|']
    lines += [f'| {k} | {v:.3f} |' for k, v in data['ratios'].items()]
    return '\n'.join(lines) + '\n'


def format_inference_table(res: Dict) -> str:
    """A markdown table of the inference benchmark's rows."""
    s = res['settings']
    lines = [f'batch {s["batch"]} ({s.get("images", "random")} images), {s["threads"]} threads',
             '', '| model | images/s | top-1 on the batch (%) | MMACs / image | '
             'answered by exit 1 / 2 / 3 / vote (%) |', '|---|---:|---:|---:|---|']
    for r in res['rows']:
        top1 = '' if r.get('top1') is None else f'{r["top1"]:.2f}'
        share = ' / '.join(f'{v:.1f}' for v in r.get('exit_share', []))
        lines.append(f'| {r["name"]} | {r["img_per_s"]:.0f} | {top1} | {r["macs"] / 1e6:.2f} | '
                     f'{share} |')
    return '\n'.join(lines) + '\n'


def format_early_exit_table(result: Dict) -> str:
    """A markdown table of an early-exit sweep: top-1, MACs and the share of images each exit
    answers, per confidence threshold."""
    k = len(result['exit_top1'])
    exits = ' / '.join(str(i + 1) for i in range(k))
    lines = [f'| threshold | top-1 (%) | MMACs / image (sequential) | answered by exit {exits} / '
             'vote (%) |', '|---:|---:|---:|---|']
    for r in result['sweep']:
        share = ' / '.join(f'{s:.1f}' for s in r['exit_share'])
        lines.append(f'| {r["threshold"]:.2f} | {r["top1"]:.2f} | {r["gmacs"] * 1e3:.2f} | '
                     f'{share} |')
    single = ', '.join(f'exit {i + 1}: {a:.2f} %' for i, a in enumerate(result['exit_top1']))
    return '\n'.join(lines) + f'\n\nSingle exits on the same {result["num_images"]} images: ' \
        f'{single}.\n'


def format_profile(result: Dict) -> str:
    """Markdown tables of the phases and operators of every profiled variant (and, for two
    variants, the per-operator difference)."""
    variants = list(result['variants'])
    s = result['settings']
    lines = [f'{s["pair"]}, batch {s["batch"]}, {s["iters"]} profiled steps after '
             f'{s["warmup"]}, {s["threads"]} threads, '
             f'{"bfloat16 autocast" if s.get("amp") else "fp32"}, torch {s["torch"]}; ms per step',
             '',
             '| phase | ' + ' | '.join(variants) + ' |', '|---|' + '---:|' * len(variants)]
    phases = list(dict.fromkeys(p for v in variants
                                for p in result['variants'][v]['phases_ms']))
    for p in phases:
        cells = [result['variants'][v]['phases_ms'].get(p) for v in variants]
        lines.append(f'| {p} | ' + ' | '.join('' if c is None else f'{c:.1f}' for c in cells)
                     + ' |')
    ops = list(dict.fromkeys(o for v in variants for o in result['variants'][v]['ops_ms']))
    head = ' | '.join(variants)
    if len(variants) == 2:
        head += f' | {variants[1]} - {variants[0]}'
    lines += ['', f'| operator (self CPU) | {head} |',
              '|---|' + '---:|' * (len(variants) + (len(variants) == 2))]
    rows = []
    for o in ops:
        cells = [result['variants'][v]['ops_ms'].get(o, {}).get('self_ms') for v in variants]
        diff = ((cells[1] or 0.0) - (cells[0] or 0.0)) if len(variants) == 2 else None
        rows.append((diff if diff is not None else -(cells[0] or 0.0), o, cells, diff))
    if len(variants) == 2:
        rows.sort(key=lambda r: r[0], reverse=True)
    for _, o, cells, diff in rows:
        text = ' | '.join('' if c is None else f'{c:.1f}' for c in cells)
        lines.append(f'| {o} | {text}' + (f' | {diff:+.1f}' if diff is not None else '') + ' |')
    return '\n'.join(lines) + '\n'


def format_grad_deviation(data: Dict) -> str:
    """The table of each speed option's loss and gradient deviation (grad_deviation.py)."""
    st = data['settings']
    lines = [f'{st["pair"].replace(":", " -> ")}, batch {st["batch"]}, {st["input"]}, '
             f'{st["params"]:,d} trainable parameters, torch {st["torch"]}', '',
             '| variant | gradients vs. float64 | gradients vs. official fp32 | loss vs. float64 |',
             '|---|---:|---:|---:|']
    for name, row in data['variants'].items():
        lines.append(f'| {name} | {row["grad_vs_float64"]:.2e} | '
                     f'{row["grad_vs_official_fp32"]:.2e} | {row["loss_vs_float64"]:.1e} |')
    return '\n'.join(lines) + '\n'


# issue #14's targets of ReviewKD / KD with the defaults
REVIEWKD_VS_KD_TARGET = {'resnet56:resnet20': 1.35, 'resnet32x4:resnet8x4': 1.7}


def format_step_summary(data: Dict) -> str:
    """The README's summary of the step JSON: per pair ReviewKD and KD seconds per step, their
    ratio and the speed-up over an earlier commit. Where the interleaved comparison measured the
    pair, every column of its row comes from that one run (this tree's medians there); otherwise
    the step table's seconds, without a speed-up."""
    cmp = data.get('baseline_comparison', {})
    cmp_pairs = {p: c for p, c in cmp.get('pairs', {}).items()
                 if {'kd', 'reviewkd'} <= set(c['speedup'])}
    base = cmp.get('settings', {}).get('baseline', 'the baseline commit')
    lines = ['| teacher -> student | KD s/step | ReviewKD s/step | ReviewKD / KD (target) | '
             f'ReviewKD s/step at {base} | ReviewKD speed-up | KD speed-up |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for pair, row in data['pairs'].items():
        v = row['variants']
        c = cmp_pairs.get(pair)
        if c:
            kd, rk = c['s_per_step']['ours']['kd'], c['s_per_step']['ours']['reviewkd']
        elif 'kd' in v and 'reviewkd' in v:
            kd, rk = v['kd']['s_per_step'], v['reviewkd']['s_per_step']
        else:
            continue
        target = REVIEWKD_VS_KD_TARGET.get(pair)
        old = f'{c["s_per_step"]["baseline"]["reviewkd"]:.3f}' if c else '–'
        speed = (f'{c["speedup"]["reviewkd"]:.2f}x', f'{c["speedup"]["kd"]:.2f}x') if c else \
            ('–', '–')
        lines.append(f'| {pair.replace(":", " -> ")} | {kd:.3f} | {rk:.3f} | {rk / kd:.2f}'
                     f'{f" (<= {target})" if target else ""} | {old} | {speed[0]} | '
                     f'{speed[1]} |')
    if cmp_pairs:
        st = cmp['settings']
        lines += ['', f'{base} vs. {st["ours"]} measured side by side, interleaved '
                      f'({st["rounds"]} rounds of {st["iters"]} steps, each variant of each tree '
                      f'in its own process, median{review_path_note(st)}), by '
                      f'`tools/analysis_tools/compare_step_commits.py`: every column of a row '
                      f'comes from that one run. ReviewKD / KD at {base}: '
                      + ', '.join(f'{p.replace(":", " -> ")} {c["reviewkd_vs_kd"]["baseline"]:.2f}'
                                  for p, c in cmp_pairs.items() if 'reviewkd_vs_kd' in c) + '.']
    return '\n'.join(lines) + '\n'
