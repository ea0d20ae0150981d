#!/bin/sh
exec flask run --host=0.0.0.0
