"""DCGAN-specific checks (questions/dcgan.md): the GAN family's checks, on the DCGAN answers."""

from test_gan import (
    check_both_networks_change,
    check_discriminator_learns,
    check_diversity_reported,
    check_generator_learns,
)

TOPIC = "dcgan"


def test_discriminator_learns(answer):
    check_discriminator_learns(answer)


def test_generator_learns(answer):
    check_generator_learns(answer)


def test_both_networks_change(answer):
    check_both_networks_change(answer)


def test_diversity_reported(answer):
    check_diversity_reported(answer)
