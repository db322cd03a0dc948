"""Check the image's kernels against its build switches and record both (last build step).

    python3 record-build.py OUTPUT --with-cran true|false --with-julia true|false

The switches arrive already read by build-switch.sh. The image must have exactly the
kernels they call for: Python 3, R and Go always, and Julia when WITH_JULIA is true;
anything else fails the build with the difference. OUTPUT (JSON) then records the
switches and each kernel's name, display name, language and location, so tests and
operators can ask a running image what it was built with.
"""

import argparse
import json
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

ALWAYS = {"python3", "ir", "gonb"}


def main():
    """Compare the kernelspecs with the switches; write OUTPUT, or exit with the difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--with-cran", choices=["true", "false"], required=True)
    parser.add_argument("--with-julia", choices=["true", "false"], required=True)
    args = parser.parse_args()

    specs = KernelSpecManager().get_all_specs()
    julia = sorted(name for name in specs if name.startswith("julia-"))
    problems = [f"kernel {name} is missing" for name in sorted(ALWAYS - set(specs))]
    extra = set(specs) - ALWAYS - set(julia)
    problems += [f"unexpected kernel {name}" for name in sorted(extra)]
    if args.with_julia == "true" and len(julia) != 1:
        problems.append(f"WITH_JULIA=true needs exactly one Julia kernel, found {julia or 'none'}")
    if args.with_julia == "false" and julia:
        problems.append(f"WITH_JULIA=false but found Julia kernels {julia}")
    if problems:
        sys.exit("error: the image's kernels do not match its build switches:\n  - "
                 + "\n  - ".join(problems))

    record = {
        "switches": {"with_cran": args.with_cran == "true",
                     "with_julia": args.with_julia == "true"},
        "kernels": {
            name: {"display_name": spec["spec"]["display_name"],
                   "language": spec["spec"]["language"],
                   "resource_dir": spec["resource_dir"]}
            for name, spec in sorted(specs.items())
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"kernels: {', '.join(sorted(specs))}")


if __name__ == "__main__":
    main()
