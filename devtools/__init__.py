"""Development helpers kept out of the runtime packages: previews of the screens, draw and
storage benchmarks, demo data, the kiosk soak driver. Nothing the app imports."""
