"""Diffusion perception methods: DDPM on face crops, its inversions, and its U-Net's features as a backbone."""
