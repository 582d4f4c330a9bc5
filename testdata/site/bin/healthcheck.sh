#!/bin/sh
echo "healthy"
