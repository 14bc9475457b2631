"""Generative perception methods (VAE, GAN, WGAN-GP) whose encoder or discriminator trunk is a backbone the agents
can use, and the metrics that judge samples in our own backbones' features."""
