"""Draws its own figure with step i at y = i (0-based), so every step and every "stale" mark is one step off; the contract is "step i is drawn at y = i + 1"."""
# expect-fail: draw_race_marks_stale_moment
# %% cell: draw_race
def draw_race(schedule: list[tuple[str, str]]):
    """The schedule as a timeline (one lane per actor, step i at y = i + 1), stale moments marked."""
    moments = set(stale_moments(schedule))
    actors = list(dict.fromkeys(actor for actor, _ in schedule))
    fig, ax = plt.subplots(figsize=(2 + 2.5 * len(actors), 1 + 0.5 * len(schedule)))
    for x in range(len(actors)):
        ax.axvline(x, color="lightgray", zorder=0)
    for i, (actor, action) in enumerate(schedule):
        x = actors.index(actor)
        ax.plot([x], [i], "o", color="tab:blue")
        ax.text(x - 0.08, i, action, ha="right", va="center", fontsize=8)
        if i in moments:
            ax.text(x + 0.08, i, "stale!", color="red", fontsize=8, va="center")
    ax.set_xticks(range(len(actors)))
    ax.set_xticklabels(actors)
    ax.set_xlim(-1.2, len(actors) - 0.2)
    ax.set_ylim(len(schedule), -1)
    ax.set_ylabel("step")
    ax.set_title("cache race")
    return fig
