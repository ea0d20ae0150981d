#!/bin/bash
# class_grep_checks.sh DIR: the static checks of tests/e2e/fixtures/class/spec.yaml
# done the quick-and-dirty way (find + grep), for bench/class.sh's comparison.
# Prints "score/8". Not a grader: no Dockerfile parsing (continuations,
# stages, JSON), no symlink care, no caps.
d=$1
score=0
df=$(grep -rlis --include='Dockerfile*' cowsay "$d" | head -1)
if [ -n "$df" ]; then
    score=$((score + 1))
    ep=$(grep -iE '^\s*entrypoint' "$df" | tail -1)
    if printf '%s' "$ep" | grep -qiE '^\s*entrypoint\s*\[\s*"'; then
        score=$((score + 2))
        printf '%s' "$ep" | grep -qE '\[\s*"[^"]*cowsay"' && score=$((score + 1))
    fi
fi
app=$(find "$d" -name app.py -not -path '*/.git/*' | head -1)
if [ -n "$app" ] && grep -q '/health' "$app"; then
    score=$((score + 1))
    hdf=$(dirname "$app")/Dockerfile
    hc=$(grep -iE '^\s*healthcheck' "$hdf" 2>/dev/null | tail -1)
    if [ -n "$hc" ] && ! printf '%s' "$hc" | grep -qi 'none'; then
        score=$((score + 2))
        printf '%s' "$hc" | grep -qE -- '--fail|-f\b' && score=$((score + 1))
    fi
fi
echo "$score/8"
