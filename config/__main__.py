"""``python -m config``: every variable shiftfill reads, as the table in docs/configuration.md."""

from config import settings_table


def main() -> None:
    print("| variable | default | accepted | meaning |")
    print("|---|---|---|---|")
    for s in settings_table():
        print(f"| `{s.env}` | `{s.shown_default()}` | {s.bounds()} | {s.doc} |")


if __name__ == "__main__":
    main()
