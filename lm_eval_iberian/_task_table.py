"""The task table (``lm-eval-iberian tasks`` and the README), read from the YAMLs."""

from lm_eval_iberian.data import groups, leaf_tasks


def _metrics(cfg: dict) -> str:
    return ", ".join(m["metric"] for m in cfg.get("metric_list") or [])


def _scored_split(cfg: dict) -> str:
    return cfg.get("test_split") or cfg.get("validation_split") or "?"


def _fewshot_split(cfg: dict) -> str:
    if cfg.get("num_fewshot", 0) == 0:
        return "-"
    return cfg.get("fewshot_split") or cfg.get("training_split") or cfg.get("validation_split") or cfg.get("test_split")


def task_rows() -> list[tuple[str, ...]]:
    rows = []
    for name, info in sorted(leaf_tasks().items()):
        cfg = info.config
        kw = cfg["dataset_kwargs"]
        configs = "+".join(kw["iberian_configs"]) if len(kw["iberian_configs"]) <= 2 else f"{len(kw['iberian_configs'])} configs, pooled"
        rows.append(
            (
                name,
                f"{kw['iberian_source']} ({configs})",
                _scored_split(cfg),
                _fewshot_split(cfg),
                str(cfg.get("num_fewshot", 0)),
                _metrics(cfg),
            )
        )
    return rows


def group_rows() -> list[tuple[str, ...]]:
    rows = []
    for name, info in sorted(groups().items()):
        cfg = info.config
        members = [m if isinstance(m, str) else m["task"] for m in cfg["task"]]
        aggs = cfg.get("aggregate_metric_list") or []
        how = ", ".join(
            f"{a['metric']} ({'weighted by size' if a.get('weight_by_size') else 'unweighted mean'})" for a in aggs
        )
        rows.append((name, str(len(members)), ", ".join(members), how))
    return rows


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"`{r[0]}`" if i == 0 else r[i] for i in range(len(r))) + " |" for r in rows]
    return "\n".join(lines)


TASK_HEADER = ("task", "dataset (config)", "scored split", "few-shot split", "shots", "metrics")
GROUP_HEADER = ("group", "size", "members", "aggregate")


def render_markdown() -> str:
    return (
        markdown_table(TASK_HEADER, task_rows()) + "\n\n" + markdown_table(GROUP_HEADER, group_rows())
    )


def render_text() -> str:
    def table(header, rows):
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])

    short_groups = [(n, s, (m if len(m) < 60 else m[:57] + "..."), a) for n, s, m, a in group_rows()]
    return table(TASK_HEADER, task_rows()) + "\n\n" + table(GROUP_HEADER, short_groups)
