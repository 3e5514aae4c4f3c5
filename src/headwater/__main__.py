import gc

# Importing the CLI builds tens of thousands of long-lived objects (modules, classes, their
# functions) and no garbage: the cyclic collector would only rescan them, ~5% of the imports'
# CPU. Off while importing, on again before any command runs.
gc.disable()
try:
    from headwater.cli.app import main
finally:
    gc.enable()

main()
