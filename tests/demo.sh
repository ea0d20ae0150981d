#!/bin/bash
# make demo: grade a few sample submissions with checks/tp2bis.yaml and
# print their reports. With a Docker daemon (started here when we may, with
# local base images built once) the Docker checks run too; without one,
# only the static checks are graded, and we say so.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
tpgrade="$root/$build/tpgrade"
spec="$root/checks/tp2bis.yaml"
work=$(mktemp -d /tmp/tpgrade-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

skip=(--skip-tags live)
say "Preparing the Docker daemon and the local base images"
if "$root/tests/env/dockerd.sh" ensure && "$root/tests/env/base-images.sh" ensure; then
	echo "Docker is ready: the Docker checks (build, run, health) are graded too."
else
	echo "No Docker daemon here (needs root and docker.io): grading the static checks only."
	skip=(--skip-tags live,docker,registry)
fi

for sample in complete malformed-json curl-no-fail unexpected-layout; do
	repo="$work/$sample"
	cp -a "$root/sample-submissions/$sample/repo" "$repo"
	git -C "$repo" init -q && git -C "$repo" add -A &&
		git -C "$repo" -c user.name=Student -c user.email=student@example.org commit -qm "TP 2Bis"
	say "tpgrade grade ${skip[*]} tp2bis sample-submissions/$sample"
	"$tpgrade" grade "${skip[@]}" --var health_wait=20s --json "$work/$sample.json" \
		--junit "$work/$sample.xml" "$spec" "$repo"
	echo "(exit status $?; JUnit and JSON reports written too)"
done

say "The JSON report of the complete sample (first lines)"
head -n 25 "$work/complete.json"
say "Done"
echo "Reports for every sample: tests/docker/tp2bis-samples.sh; the rubric: docs/tp2bis.md"
